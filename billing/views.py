from __future__ import annotations

import logging
import uuid

import stripe
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.selectors import account_for_user
from accounts.tiers import TIERS
from analytics.selectors import credit_runway
from billing import selectors
from billing.models import PurchaseStatus
from billing.services import purchases, refunds, subscriptions
from billing.services.stripe_events import stripe_event_receive
from yunxin.errors import DomainError, NotFound

log = logging.getLogger(__name__)


def _account(request: HttpRequest):
    account = account_for_user(request.user)
    if account is None:
        raise Http404("No account")
    return account


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """Leave for Stripe (or the simulator): HX-Redirect for htmx, a 303 otherwise."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@login_required
def billing_settings(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    context = {
        "account": account,
        "tiers": list(TIERS.values()),
        "plans": selectors.plans_by_tier(),
        "subscription": selectors.current_subscription(account=account),
        "packs": selectors.packs_for_sale(),
        "purchases": selectors.purchase_list(account=account),
        "ledger": selectors.ledger_list(account=account)[:10],
        "custom": {
            "min": settings.CUSTOM_PURCHASE_MIN_CREDITS,
            "max": settings.CUSTOM_PURCHASE_MAX_CREDITS,
            "price": settings.CREDIT_PRICE_MINOR,
            "currency": settings.BILLING_CURRENCY,
        },
        "refund_days": settings.REFUND_WINDOW_DAYS,
        "refunds": selectors.refund_list(account=account),
        "simulator": settings.STRIPE_SIMULATOR,
        "runway": credit_runway(account=account),
    }
    return render(request, "billing/settings.html", context)


@login_required
@require_POST
def buy_credits(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    pack_id = request.POST.get("pack")
    try:
        _, url = purchases.purchase_start(
            account=account,
            pack_id=int(pack_id) if pack_id and pack_id.isdigit() else None,
            custom_credits=None if pack_id else request.POST.get("credits", ""),
            success_url=request.build_absolute_uri(reverse("purchase_return"))
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=request.build_absolute_uri(reverse("purchase_canceled")),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _go(request, reverse("billing_settings") + "#buy")
    return _go(request, url)


@login_required
def purchase_return(request: HttpRequest) -> HttpResponse:
    """Back from checkout. Says "credits added" only once they are."""
    account = _account(request)
    try:
        purchase = selectors.purchase_by_session(
            account=account, session_id=request.GET.get("session_id", "")
        )
    except NotFound as exc:
        raise Http404("No such purchase") from exc
    if purchase.status == PurchaseStatus.PENDING:
        try:
            purchases.checkout_fulfil(session_id=purchase.checkout_session_id)
        except DomainError as exc:
            log.warning("fulfilment from the success page failed: %s", exc.message)
        purchase = selectors.purchase_get(account=account, purchase_id=purchase.pk)
        account.refresh_from_db()

    template = "billing/_purchase_status.html" if request.htmx else "billing/purchase_return.html"
    return render(request, template, {"purchase": purchase, "account": account})


@login_required
def purchase_canceled(request: HttpRequest) -> HttpResponse:
    messages.info(request, "Checkout canceled: no payment was taken.")
    return redirect("billing_settings")


@login_required
@require_POST
def subscribe(request: HttpRequest, tier: str) -> HttpResponse:
    account = _account(request)
    try:
        url = subscriptions.subscription_checkout_start(
            account=account,
            tier=tier,
            success_url=request.build_absolute_uri(reverse("subscription_return"))
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=request.build_absolute_uri(reverse("billing_settings")),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _go(request, reverse("billing_settings"))
    return _go(request, url)


@login_required
def subscription_return(request: HttpRequest) -> HttpResponse:
    """Back from a subscription checkout: apply what Stripe says now, without waiting for
    the webhook (which applies the same state again, harmlessly)."""
    account = _account(request)
    try:
        subscriptions.subscription_sync_from_checkout(
            account=account, session_id=request.GET.get("session_id", "")
        )
    except DomainError as exc:
        log.warning("subscription sync from the return page failed: %s", exc.message)
    account.refresh_from_db()
    if account.tier == "free":
        messages.info(request, "Payment received: your subscription is being confirmed.")
    else:
        messages.success(request, f"Your plan is now {account.tier_info.label}.")
    return redirect("billing_settings")


@login_required
@require_POST
def manage_subscription(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    try:
        url = subscriptions.portal_url(
            account=account, return_url=request.build_absolute_uri(reverse("billing_settings"))
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _go(request, reverse("billing_settings"))
    return _go(request, url)


@login_required
@require_http_methods(["GET", "POST"])
def refund_page(request: HttpRequest, purchase_id: int) -> HttpResponse:
    """Choose how many unused credits to refund, see the money that comes back, confirm."""
    account = _account(request)
    data = request.POST if request.method == "POST" else request.GET
    context = {"account": account, "credits_text": data.get("credits", "").strip()}
    try:
        preview = refunds.refund_preview(
            account=account, purchase_id=purchase_id, credits_text=context["credits_text"]
        )
        context |= preview
        if request.method == "POST":
            refund = refunds.refund_request(
                account=account,
                purchase_id=purchase_id,
                credits=preview["credits"],
                idempotency_key=data.get("token", ""),
                reason=data.get("reason", ""),
                actor=request.user,
            )
            messages.success(request, f"Refund #{refund.pk}: {refund.get_status_display()}.")
            return redirect(reverse("billing_settings") + "#refunds")
    except NotFound as exc:
        raise Http404("No such purchase") from exc
    except DomainError as exc:
        context["error"] = exc.message
    context.setdefault("purchase", _owned_purchase(account, purchase_id))
    context["token"] = data.get("token") or uuid.uuid4().hex
    template = "billing/_refund_preview.html" if request.htmx else "billing/refund.html"
    return render(request, template, context)


def _owned_purchase(account, purchase_id: int):
    try:
        return selectors.purchase_get(account=account, purchase_id=purchase_id)
    except NotFound as exc:
        raise Http404("No such purchase") from exc


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Stripe's events. Verified against the raw body; stored once; processed by a task."""
    signature = request.headers.get("Stripe-Signature", "")
    try:
        stripe_event_receive(payload=request.body, signature=signature)
    except stripe.SignatureVerificationError:
        return JsonResponse(
            {"error": {"code": "invalid_signature", "message": "Bad Stripe-Signature."}}, status=400
        )
    except ValueError:
        return JsonResponse(
            {"error": {"code": "invalid_payload", "message": "Malformed event."}}, status=400
        )
    return JsonResponse({"received": True})
