from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from accounts.models import Account
from accounts.selectors import account_for_user
from analytics import selectors
from analytics.forms import RANGE_CHOICES, AnalyticsFilterForm
from analytics.page import page_context
from models_catalog.selectors import listed_models
from models_catalog.services import accessible_models_q


def _account(request: HttpRequest) -> Account:
    account = account_for_user(request.user)
    if account is None:
        raise Http404("No account")
    return account


def _first_model(account: Account) -> str:
    """A chat model the account may call, for the first-request example."""
    models = listed_models().filter(accessible_models_q(tier=account.tier), modality="chat")
    return models.order_by("slug").values_list("slug", flat=True).first() or "openai/gpt-4o-mini"


@login_required
@require_safe
@vary_on_headers("HX-Request")
def analytics_page(request: HttpRequest) -> HttpResponse:
    """Usage over a range, in the customer's time zone, with the filters in the URL. An
    htmx request gets only the panel (and the canonical URL to push)."""
    account = _account(request)
    form = AnalyticsFilterForm(request.GET, account=account)
    selection = form.selection(timezone.now())
    overview = selectors.usage_overview(selection.query, bucket=selection.bucket)
    context = {
        "account": account,
        "form": form,
        "selection": selection,
        "range_choices": RANGE_CHOICES,
        "runway": selectors.credit_runway(account=account),
        **page_context(overview, selection, form.keys),
    }
    if not overview.totals.requests:
        context["has_usage"] = selectors.usage_exists(account=account)
        context["has_key"] = any(k.is_active for k in form.keys)
        context["example_model"] = "" if context["has_usage"] else _first_model(account)
    url = reverse("analytics_page") + (
        f"?{selection.query_string}" if selection.query_string else ""
    )
    if request.htmx and not request.htmx.history_restore_request:
        return push_url(render(request, "analytics/_panel.html", context), url)
    return render(request, "analytics/analytics.html", context)
