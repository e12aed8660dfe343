"""Settings → Webhooks pages. htmx requests get the fragment that changed; every form
also works as a plain POST that redirects (no JavaScript needed)."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import Account
from accounts.selectors import account_for_user
from accounts.tiers import lowest_tier_with
from accounts.webhooks import selectors, services
from accounts.webhooks.events import EVENT_TYPES
from accounts.webhooks.forms import EndpointForm, LowBalanceForm
from accounts.webhooks.models import DeliveryStatus, WebhookEndpoint
from yunxin.errors import DomainError, NotFound, ValidationFailed

DELIVERIES_SHOWN = 25


def _account(request: HttpRequest) -> Account:
    account = account_for_user(request.user)
    if account is None:
        raise Http404("No account")
    return account


def _upgrade(request: HttpRequest, account: Account, status: int = 403) -> HttpResponse:
    """What webhooks would give a Free or Basic account, and where to upgrade."""
    context = {
        "account": account,
        "required": lowest_tier_with("webhooks"),
        "events": EVENT_TYPES.values(),
        "timeout": settings.WEBHOOKS_TIMEOUT_SECONDS,
        "paused": selectors.webhook_endpoint_list(account=account).count(),
    }
    return render(request, "accounts/webhooks_upgrade.html", context, status=status)


def webhooks_view(view):
    """Log-in required, and the account's tier must include webhooks (else the upgrade
    page, 403); the view receives the account."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        account = _account(request)
        if not account.tier_info.webhooks:
            return _upgrade(request, account)
        return view(request, account, *args, **kwargs)

    return wrapper


def _endpoint(account: Account, endpoint_id: int) -> WebhookEndpoint:
    try:
        return selectors.webhook_endpoint_get(account=account, endpoint_id=endpoint_id)
    except NotFound as exc:
        raise Http404("No such webhook endpoint") from exc


@login_required
@require_http_methods(["GET", "POST"])
def webhooks_page(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    if not account.tier_info.webhooks:
        return _upgrade(request, account, status=200 if request.method == "GET" else 403)
    form = EndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = services.webhook_endpoint_create(account=account, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
        else:
            if not request.htmx:
                messages.success(request, "Endpoint added. Reveal its secret to verify signatures.")
                return redirect("webhook_endpoint", created.pk)
            form = EndpointForm()
    context = {
        "account": account,
        "form": form,
        "created": created,
        "endpoints": selectors.webhook_endpoint_list(account=account),
        "settings_form": LowBalanceForm.for_account(account),
        "events": EVENT_TYPES.values(),
        "timeout": settings.WEBHOOKS_TIMEOUT_SECONDS,
    }
    template = "accounts/_webhooks_panel.html" if request.htmx else "accounts/webhooks.html"
    return render(request, template, context)


@webhooks_view
@require_POST
def webhooks_settings(request: HttpRequest, account: Account) -> HttpResponse:
    form = LowBalanceForm(request.POST)
    saved = False
    if form.is_valid():
        threshold = form.cleaned_data["low_balance_threshold"]
        account = services.webhook_settings_update(account=account, low_balance_threshold=threshold)
        saved = True
        if not request.htmx:
            messages.success(request, "Low-balance threshold saved.")
            return redirect("webhooks")
    if not request.htmx:
        messages.error(request, " ".join(form.errors.get("low_balance_threshold", [])))
        return redirect("webhooks")
    context = {"settings_form": form if not saved else LowBalanceForm.for_account(account)}
    return render(request, "accounts/_webhooks_settings.html", {**context, "saved": saved})


def _detail_context(account: Account, endpoint: WebhookEndpoint, **extra) -> dict:
    deliveries = selectors.webhook_delivery_list(
        account=account, endpoint_id=endpoint.pk, limit=DELIVERIES_SHOWN
    )
    return {
        "account": account,
        "endpoint": endpoint,
        "deliveries": deliveries,
        # Refresh the panel while a delivery is queued or sending, not while it waits
        # hours for a retry.
        "in_flight": any(
            d.status == DeliveryStatus.SENDING
            or (d.status == DeliveryStatus.PENDING and d.attempt_count == d.retry_base)
            for d in deliveries
        ),
        **extra,
    }


@webhooks_view
@require_http_methods(["GET", "POST"])
def webhook_endpoint(request: HttpRequest, account: Account, endpoint_id: int) -> HttpResponse:
    """The endpoint's page; POST saves the edit form."""
    endpoint = _endpoint(account, endpoint_id)
    form = EndpointForm.for_endpoint(endpoint, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_endpoint_update(
                account=account, endpoint_id=endpoint.pk, **form.cleaned_data
            )
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
        else:
            if not request.htmx:
                messages.success(request, "Endpoint saved.")
                return redirect("webhook_endpoint", endpoint.pk)
            form = EndpointForm.for_endpoint(endpoint)
            form.saved = True
    if request.htmx:
        context = {"endpoint": endpoint, "form": form}
        return render(request, "accounts/_webhooks_endpoint_form.html", context)
    context = _detail_context(account, endpoint, form=form)
    return render(request, "accounts/webhooks_endpoint.html", context)


@never_cache
@webhooks_view
@require_safe
def webhook_endpoint_secret(
    request: HttpRequest, account: Account, endpoint_id: int
) -> HttpResponse:
    endpoint = _endpoint(account, endpoint_id)
    if request.htmx:
        context = {"endpoint": endpoint, "revealed": True}
        return render(request, "accounts/_webhooks_secret.html", context)
    context = _detail_context(
        account, endpoint, form=EndpointForm.for_endpoint(endpoint), revealed=True
    )
    return render(request, "accounts/webhooks_endpoint.html", context)


@never_cache
@webhooks_view
@require_POST
def webhook_endpoint_rotate(
    request: HttpRequest, account: Account, endpoint_id: int
) -> HttpResponse:
    try:
        endpoint = services.webhook_endpoint_rotate_secret(account=account, endpoint_id=endpoint_id)
    except NotFound as exc:
        raise Http404("No such webhook endpoint") from exc
    if request.htmx:
        context = {"endpoint": endpoint, "revealed": True, "rotated": True}
        return render(request, "accounts/_webhooks_secret.html", context)
    messages.success(request, "New secret made; the old one keeps signing for 24 hours.")
    return redirect("webhook_endpoint_secret", endpoint.pk)


@webhooks_view
@require_POST
def webhook_endpoint_test(request: HttpRequest, account: Account, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(account, endpoint_id)
    error = None
    try:
        services.webhook_endpoint_send_test(account=account, endpoint_id=endpoint.pk)
    except DomainError as exc:
        error = exc.message
    return _deliveries_answer(request, account, endpoint, error, "Test event sent.")


@webhooks_view
@require_POST
def webhook_endpoint_enabled(
    request: HttpRequest, account: Account, endpoint_id: int
) -> HttpResponse:
    enabled = request.POST.get("enabled") == "1"
    try:
        services.webhook_endpoint_update(account=account, endpoint_id=endpoint_id, enabled=enabled)
    except NotFound as exc:
        raise Http404("No such webhook endpoint") from exc
    messages.success(request, "Endpoint enabled." if enabled else "Endpoint disabled.")
    return redirect("webhook_endpoint", endpoint_id)


@webhooks_view
@require_POST
def webhook_endpoint_delete(
    request: HttpRequest, account: Account, endpoint_id: int
) -> HttpResponse:
    try:
        services.webhook_endpoint_delete(account=account, endpoint_id=endpoint_id)
    except NotFound as exc:
        raise Http404("No such webhook endpoint") from exc
    messages.success(request, "Endpoint deleted.")
    return redirect("webhooks")


@webhooks_view
@require_safe
def webhook_endpoint_deliveries(
    request: HttpRequest, account: Account, endpoint_id: int
) -> HttpResponse:
    """The deliveries panel alone (htmx refreshes it while deliveries are in flight)."""
    endpoint = _endpoint(account, endpoint_id)
    if not request.htmx:
        return redirect("webhook_endpoint", endpoint.pk)
    context = _detail_context(account, endpoint)
    return render(request, "accounts/_webhooks_deliveries.html", context)


@webhooks_view
@require_POST
def webhook_delivery_redeliver(
    request: HttpRequest, account: Account, delivery_id: int
) -> HttpResponse:
    try:
        item = selectors.webhook_delivery_get(account=account, delivery_id=delivery_id)
    except NotFound as exc:
        raise Http404("No such webhook delivery") from exc
    error = None
    try:
        services.webhook_delivery_redeliver(account=account, delivery_id=item.pk)
    except DomainError as exc:
        error = exc.message
    return _deliveries_answer(request, account, item.endpoint, error, "Redelivery queued.")


def _deliveries_answer(request, account, endpoint, error: str | None, done: str) -> HttpResponse:
    if request.htmx:
        context = _detail_context(account, endpoint, error=error)
        return render(request, "accounts/_webhooks_deliveries.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("webhook_endpoint", endpoint.pk)
