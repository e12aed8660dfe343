from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyCreateForm, ApiKeyLimitsForm
from yunxin.errors import NotFound, ValidationFailed


def _account(request: HttpRequest):
    account = selectors.account_for_user(request.user)
    if account is None:
        raise Http404("No account")
    return account


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    keys = selectors.api_key_list(account=account).filter(revoked_at__isnull=True)[:5]
    return render(request, "accounts/dashboard.html", {"account": account, "keys": keys})


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    form = ApiKeyCreateForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            key, secret = services.api_key_create(
                account=account, created_by=request.user, **form.cleaned_data
            )
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
        else:
            new_key = {"key": key, "secret": secret}
            form = ApiKeyCreateForm()
    context = {
        "account": account,
        "keys": _with_spend(selectors.api_key_list(account=account)),
        "form": form,
        "new_key": new_key,
    }
    template = "accounts/_api_keys_panel.html" if request.htmx else "accounts/api_keys.html"
    return render(request, template, context)


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    account = _account(request)
    try:
        key = services.api_key_revoke(account=account, key_id=key_id)
    except NotFound as exc:
        raise Http404("No such API key") from exc
    if request.htmx:
        return render(request, "accounts/_api_key_row.html", {"k": _with_spend([key])[0]})
    messages.success(request, f"Key “{key.name}” revoked. Requests using it now get 401.")
    return redirect("api_keys")


@login_required
@require_POST
def api_key_limits(request: HttpRequest, key_id: int) -> HttpResponse:
    account = _account(request)
    try:
        key = selectors.api_key_get(account=account, key_id=key_id)
    except NotFound as exc:
        raise Http404("No such API key") from exc
    form = ApiKeyLimitsForm(request.POST)
    if form.is_valid():
        try:
            key = services.api_key_set_limits(account=account, key_id=key.pk, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
        else:
            if not request.htmx:
                messages.success(request, f"Limits of “{key.name}” saved.")
                return redirect("api_keys")
            form = None
    context = {"k": _with_spend([key])[0], "limits_form": form}
    if request.htmx:
        return render(request, "accounts/_api_key_row.html", context)
    return render(request, "accounts/api_key_limits.html", context)


def _with_spend(keys):
    """Attach each key's spend in its current limit period (no queries)."""
    now = timezone.now()
    keys = list(keys)
    for key in keys:
        key.spent_this_period = selectors.api_key_period_spent(key, now)
    return keys
