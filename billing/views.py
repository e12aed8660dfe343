from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def billing_settings(request: HttpRequest) -> HttpResponse:
    # Not built yet: the page says so plainly rather than pretending.
    return render(
        request,
        "placeholder.html",
        {
            "title": "Settings → Billing",
            "what": "buying credits, subscriptions and refunds",
            "nav": "billing_settings",
        },
    )
