from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    # Not built yet: the page says so plainly rather than pretending.
    return render(
        request,
        "placeholder.html",
        {
            "title": "Analytics",
            "what": "usage charts and breakdowns per API key and per model",
            "nav": "analytics_page",
        },
    )
