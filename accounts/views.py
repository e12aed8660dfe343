from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyCreateForm
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
                account=account, name=form.cleaned_data["name"], created_by=request.user
            )
        except ValidationFailed as exc:
            form.add_error("name", exc.message)
        else:
            new_key = {"key": key, "secret": secret}
            form = ApiKeyCreateForm()
    context = {
        "account": account,
        "keys": selectors.api_key_list(account=account),
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
        return render(request, "accounts/_api_key_row.html", {"k": key})
    messages.success(request, f"Key “{key.name}” revoked. Requests using it now get 401.")
    return redirect("api_keys")
