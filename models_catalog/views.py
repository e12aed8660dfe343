from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def models_page(request: HttpRequest) -> HttpResponse:
    # Not built yet: the page says so plainly rather than pretending.
    return render(
        request,
        "placeholder.html",
        {
            "title": "Models",
            "what": "the model catalogue with per-model rates and tier gating",
            "nav": "models_page",
        },
    )
