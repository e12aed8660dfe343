"""Buying credits through Stripe Checkout, and turning paid money into credits once.

`checkout_fulfil` is the one way a purchase becomes credits. It may run any number of
times, concurrently, from the webhook and from the success page: it asks Stripe for the
session (never trusting an event's copy), then under the account and purchase row locks
adds exactly one purchase lot and ledger entry, or returns early when that already
happened. Network calls are made before the transaction, never inside it.
"""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from accounts.models import Account
from accounts.webhooks.services import webhook_emit
from billing import stripe_gateway as gateway
from billing.models import (
    CreditPack,
    EntryKind,
    LotKind,
    Purchase,
    PurchaseStatus,
    StripeCustomer,
)
from billing.money import MICRO, format_credits
from billing.services import ledger
from yunxin.errors import DomainError, NotFound, ValidationFailed

log = logging.getLogger(__name__)


class PaymentProviderError(DomainError):
    code = "payment_provider_error"
    status_code = status.HTTP_502_BAD_GATEWAY
    default_message = "The payment provider could not be reached. Nothing was charged; try again."


def stripe_customer_ensure(*, account: Account) -> str:
    existing = StripeCustomer.objects.filter(account=account).first()
    if existing:
        return existing.stripe_customer_id
    try:
        customer_id = gateway.create_customer(account_id=account.pk, email=account.owner.email)
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc
    customer, _ = StripeCustomer.objects.get_or_create(
        account=account, defaults={"stripe_customer_id": customer_id}
    )
    return customer.stripe_customer_id


def custom_price(credits: int) -> int:
    """Minor units for a custom amount of whole credits."""
    return credits * settings.CREDIT_PRICE_MINOR


def _purchase_terms(
    pack_id: int | None, custom_credits: str | None
) -> tuple[CreditPack | None, int, int]:
    if pack_id is not None:
        pack = CreditPack.objects.filter(pk=pack_id, active=True).first()
        if pack is None:
            raise NotFound("No such credit pack.")
        return pack, pack.credits, pack.price
    low, high = settings.CUSTOM_PURCHASE_MIN_CREDITS, settings.CUSTOM_PURCHASE_MAX_CREDITS
    try:
        whole = int(str(custom_credits).strip())
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("Enter a whole number of credits.") from exc
    if not low <= whole <= high:
        raise ValidationFailed(f"Buy between {low:,} and {high:,} credits.")
    return None, whole * MICRO, custom_price(whole)


def purchase_start(
    *,
    account: Account,
    success_url: str,
    cancel_url: str,
    pack_id: int | None = None,
    custom_credits: str | None = None,
) -> tuple[Purchase, str]:
    """A pending purchase and its Checkout Session; returns where to send the customer."""
    pack, credits, amount = _purchase_terms(pack_id, custom_credits)
    customer_id = stripe_customer_ensure(account=account)
    purchase = Purchase.objects.create(
        account=account,
        pack=pack,
        credits=credits,
        amount=amount,
        currency=pack.currency if pack else settings.BILLING_CURRENCY,
    )

    try:
        session = gateway.create_payment_checkout(
            purchase_id=purchase.pk,
            account_id=account.pk,
            customer_id=customer_id,
            name=pack.name if pack else f"{format_credits(credits)} Yunxin credits",
            credits=format_credits(credits),
            amount=amount,
            currency=purchase.currency,
            success_url=success_url,
            cancel_url=cancel_url,
        )
    except stripe.StripeError as exc:
        log.warning("checkout creation failed for purchase %s: %s", purchase.pk, exc)
        Purchase.objects.filter(pk=purchase.pk).update(
            status=PurchaseStatus.FAILED, failure_reason="Checkout could not be started."
        )
        raise PaymentProviderError() from exc
    Purchase.objects.filter(pk=purchase.pk).update(checkout_session_id=session.id)
    purchase.checkout_session_id = session.id
    return purchase, session.url


def checkout_fulfil(*, session_id: str) -> Purchase | None:
    """Credit a paid Checkout Session exactly once. Safe to call any number of times."""
    try:
        session = gateway.retrieve_checkout(session_id)
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc
    if session.mode != "payment":
        return None
    purchase = Purchase.objects.filter(checkout_session_id=session.id).first()
    if purchase is None:
        log.warning("checkout session %s has no purchase here", session.id)
        return None
    if session.payment_status not in ("paid", "no_payment_required"):
        return purchase
    if purchase.status == PurchaseStatus.PAID:
        return purchase
    intent_id = _id(session.payment_intent)
    return _fulfil(
        purchase.pk, session.amount_total, session.currency, intent_id, _receipt_url(intent_id)
    )


def _id(value) -> str | None:
    return value if isinstance(value, str) or value is None else value.id


def _receipt_url(intent_id: str | None) -> str:
    if not intent_id:
        return ""
    try:
        charge = gateway.retrieve_payment_intent(intent_id).latest_charge
    except stripe.StripeError:
        return ""  # a receipt link is nice to have; its absence never blocks the credits
    return (
        getattr(charge, "receipt_url", "") or "" if charge and not isinstance(charge, str) else ""
    )


@transaction.atomic
def _fulfil(
    purchase_id: int, amount: int, currency: str, intent_id: str | None, receipt: str
) -> Purchase:
    account_id = Purchase.objects.values_list("account_id", flat=True).get(pk=purchase_id)
    account = ledger.lock_account(account_id)
    purchase = Purchase.objects.select_for_update().get(pk=purchase_id)
    if purchase.status == PurchaseStatus.PAID:
        return purchase  # the webhook and the success page raced: the other one won
    if amount != purchase.amount or currency.lower() != purchase.currency.lower():
        raise ValidationFailed(
            f"Stripe reports {amount} {currency} for purchase {purchase.pk}, "
            f"which expected {purchase.amount} {purchase.currency}."
        )
    entry = ledger.credit_account(
        account,
        kind=EntryKind.PURCHASE,
        lot_kind=LotKind.PURCHASE,
        amount=purchase.credits,
        reference=f"purchase:{purchase.pk}",
        memo=f"Purchase #{purchase.pk}",
        actor=None,
    )
    purchase.status, purchase.lot, purchase.paid_at = PurchaseStatus.PAID, entry.lot, timezone.now()
    purchase.payment_intent_id, purchase.receipt_url = intent_id, receipt
    purchase.failure_reason = ""
    purchase.save()
    webhook_emit(
        account_id=account.pk,
        event_type="credits.purchased",
        data={
            "account_id": account.pk,
            "purchase_id": purchase.pk,
            "credits": format_credits(purchase.credits),
            "amount": purchase.amount,
            "currency": purchase.currency,
            "balance": format_credits(account.balance),
        },
    )
    return purchase


def checkout_unpaid(*, session_id: str, expired: bool) -> Purchase | None:
    """An async payment that failed, or a session that expired: the purchase ends unpaid
    (unless Stripe says it was paid after all)."""
    try:
        session = gateway.retrieve_checkout(session_id)
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc
    if session.payment_status == "paid":
        return checkout_fulfil(session_id=session_id)
    new_status = PurchaseStatus.EXPIRED if expired else PurchaseStatus.FAILED
    reason = "The checkout expired." if expired else "The payment did not go through."
    Purchase.objects.filter(checkout_session_id=session_id, status=PurchaseStatus.PENDING).update(
        status=new_status, failure_reason=reason
    )
    return Purchase.objects.filter(checkout_session_id=session_id).first()


@transaction.atomic
def dispute_open(*, payment_intent_id: str, reason: str) -> Purchase | None:
    """A chargeback: withhold the purchase's unspent credits and flag the account."""
    purchase = Purchase.objects.filter(payment_intent_id=payment_intent_id).first()
    if purchase is None:
        return None
    account = ledger.lock_account(purchase.account_id)
    purchase = (
        Purchase.objects.select_for_update(of=("self",)).select_related("lot").get(pk=purchase.pk)
    )
    if purchase.disputed_at:
        return purchase
    lot = purchase.lot
    frozen = min(lot.remaining, max(account.available, 0)) if lot else 0
    if frozen:
        ledger.lot_hold(account, lot=lot, amount=frozen)
    purchase.disputed_at = timezone.now()
    purchase.save(update_fields=["disputed_at"])
    Account.objects.filter(pk=account.pk).update(
        flagged_for_review=True,
        flag_reason=(
            f"Dispute on purchase #{purchase.pk} ({reason}); "
            f"{format_credits(frozen)} credits frozen"
        ),
    )
    return purchase


@transaction.atomic
def dispute_close(*, purchase_id: int, won: bool, actor) -> Purchase:
    """Staff: a won dispute gives the frozen credits back; a lost one removes them."""
    account_id = Purchase.objects.values_list("account_id", flat=True).get(pk=purchase_id)
    account = ledger.lock_account(account_id)
    purchase = (
        Purchase.objects.select_for_update(of=("self",)).select_related("lot").get(pk=purchase_id)
    )
    if not purchase.disputed_at or purchase.lot is None:
        raise ValidationFailed("This purchase has no open dispute.")
    if purchase.lot.held:
        if won:
            ledger.lot_release(account, lot=purchase.lot, amount=purchase.lot.held)
        else:
            ledger.lot_debit_held(
                account,
                lot=purchase.lot,
                amount=purchase.lot.held,
                kind=EntryKind.DISPUTE,
                reference=f"purchase:{purchase.pk}",
                memo="Dispute lost: frozen credits removed",
                actor=actor,
            )
    purchase.disputed_at = None
    purchase.save(update_fields=["disputed_at"])
    return purchase
