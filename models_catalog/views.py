from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from accounts.models import Account
from accounts.selectors import account_for_user
from models_catalog import selectors, services
from models_catalog.forms import CatalogueFilterForm
from yunxin.errors import NotFound


def _account(request: HttpRequest) -> Account:
    account = account_for_user(request.user)
    if account is None:
        raise Http404("No account")
    return account


@login_required
@require_safe
@vary_on_headers("HX-Request")
def models_page(request: HttpRequest) -> HttpResponse:
    """The catalogue with filters kept in the URL. An htmx request gets only the results
    (and the canonical URL to push); a history restore or a plain GET the whole page."""
    account = _account(request)
    form = CatalogueFilterForm(request.GET)
    models = selectors.model_list(filters=form.filters(tier=account.tier))
    for model in models:
        model.accessible = services.model_accessible(tier=account.tier, model=model)
    query = form.query_string()
    context = {"account": account, "form": form, "models": models, "query": query}
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, "models_catalog/_models_results.html", context)
        return push_url(response, reverse("models_page") + (f"?{query}" if query else ""))
    return render(request, "models_catalog/models.html", context)


@login_required
@require_safe
def model_detail(request: HttpRequest, slug: str) -> HttpResponse:
    account = _account(request)
    try:
        model = selectors.model_get(slug=slug)
    except NotFound as exc:
        raise Http404("No such model") from exc
    context = {
        "account": account,
        "model": model,
        "accessible": services.model_accessible(tier=account.tier, model=model),
        "timeline": selectors.model_rate_timeline(model=model),
    }
    return render(request, "models_catalog/model_detail.html", context)
