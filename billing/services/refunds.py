"""Refunds of unused purchased credits, within REFUND_WINDOW_DAYS of payment.

A request withholds the credits at once (lot.held), so they cannot be spent while the
refund runs; the money back is pro rata to the credits, in minor units rounded down.
A Celery task sends the refund to Stripe with an idempotency key derived from our refund
row, so a retried or crashed task never makes a second refund. The credits leave the
balance only when Stripe says the refund succeeded; a failed refund releases them.
Starter and granted credits are never refundable; a disputed purchase is not either.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import stripe
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Account, User
from accounts.webhooks.services import webhook_emit
from billing import stripe_gateway as gateway
from billing.models import (
    REFUND_OPEN,
    EntryKind,
    Purchase,
    PurchaseStatus,
    Refund,
    RefundLog,
    RefundStatus,
)
from billing.money import format_credits, parse_credits
from billing.selectors import refund_deadline, refundable_credits
from billing.services import ledger
from billing.templatetags.money import minor
from yunxin.errors import NotFound, ValidationFailed

log = logging.getLogger(__name__)


class RetryableStripeError(Exception):
    """Stripe could not be reached or failed on its side: trying again can help."""


def refund_amount(purchase: Purchase, credits: int) -> int:
    """Money back for `credits` of a purchase: pro rata, minor units, rounded down."""
    return purchase.amount * credits // purchase.credits


def _check_refundable(purchase: Purchase, account: Account, credits: int, now: datetime) -> None:
    if purchase.status != PurchaseStatus.PAID or purchase.lot is None:
        raise ValidationFailed("Only paid purchases can be refunded.")
    if purchase.disputed_at:
        raise ValidationFailed("This purchase is under dispute and cannot be refunded.")
    deadline = refund_deadline(purchase.paid_at)
    if deadline <= now:
        raise ValidationFailed(
            f"The refund window of this purchase closed on {deadline:%Y-%m-%d %H:%M} UTC "
            f"({settings.REFUND_WINDOW_DAYS} days after payment)."
        )
    if credits <= 0:
        raise ValidationFailed("Choose how many credits to refund.")
    available = refundable_credits(purchase, account, now)
    if credits > available:
        raise ValidationFailed(
            f"Only {format_credits(available)} credits of this purchase are unused and free "
            "to refund (credits held by in-flight requests cannot be refunded)."
        )


def refund_preview(*, account: Account, purchase_id: int, credits_text: str) -> dict:
    """What a request would give back, shown before the customer confirms."""
    purchase = _purchase(account, purchase_id)
    credits = (
        _parse(credits_text)
        if credits_text
        else refundable_credits(purchase, account, timezone.now())
    )
    _check_refundable(purchase, account, credits, timezone.now())
    return {
        "purchase": purchase,
        "credits": credits,
        "amount": refund_amount(purchase, credits),
        "currency": purchase.currency,
    }


def _parse(text: str) -> int:
    try:
        return parse_credits(text)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc


def _purchase(account: Account, purchase_id: int) -> Purchase:
    purchase = (
        Purchase.objects.select_related("lot").filter(account=account, pk=purchase_id).first()
    )
    if purchase is None:
        raise NotFound("No such purchase.")
    return purchase


def _lock(refund_id: int) -> tuple[Account, Refund]:
    """The account row first (the order every money operation locks in), then the refund."""
    account_id = Refund.objects.values_list("account_id", flat=True).get(pk=refund_id)
    account = ledger.lock_account(account_id)
    refund = (
        Refund.objects.select_for_update(of=("self",))
        .select_related("purchase__lot")
        .get(pk=refund_id)
    )
    return account, refund


def _log(refund: Refund, note: str = "", actor: User | None = None) -> None:
    RefundLog.objects.create(refund=refund, status=refund.status, note=note[:500], actor=actor)


def refund_request(
    *,
    account: Account,
    purchase_id: int,
    credits: int,
    idempotency_key: str,
    reason: str = "",
    actor: User | None = None,
    source: str = "customer",
) -> Refund:
    """Ask for a refund. Idempotent per (account, idempotency_key): a double-click makes
    one refund. Auto-approved when REFUND_AUTO_APPROVE is on (and always for staff)."""
    if not idempotency_key:
        raise ValidationFailed("A refund request needs an idempotency key.")
    existing = Refund.objects.filter(account=account, idempotency_key=idempotency_key).first()
    if existing:
        return existing
    try:
        refund = _request(account.pk, purchase_id, credits, idempotency_key, reason, actor, source)
    except IntegrityError:  # the same request, concurrently: the other one made it
        return Refund.objects.get(account=account, idempotency_key=idempotency_key)
    if refund.status == RefundStatus.APPROVED:
        _enqueue(refund.pk)
    return refund


@transaction.atomic
def _request(account_id, purchase_id, credits, key, reason, actor, source) -> Refund:
    account = ledger.lock_account(account_id)
    purchase = Purchase.objects.select_for_update().filter(account=account, pk=purchase_id).first()
    if purchase is None:
        raise NotFound("No such purchase.")
    _check_refundable(purchase, account, credits, timezone.now())
    approved = settings.REFUND_AUTO_APPROVE or source == "staff"
    refund = Refund.objects.create(
        account=account,
        purchase=purchase,
        credits=credits,
        amount=refund_amount(purchase, credits),
        currency=purchase.currency,
        status=RefundStatus.APPROVED if approved else RefundStatus.REQUESTED,
        source=source,
        idempotency_key=key,
        reason=reason[:500],
        requested_by=actor,
        decided_by=actor if source == "staff" else None,
    )
    ledger.lot_hold(account, lot=purchase.lot, amount=credits)
    money = minor(refund.amount, refund.currency)
    _log(refund, f"{format_credits(credits)} credits withheld; {money} to refund", actor)
    return refund


def _enqueue(refund_id: int) -> None:
    from billing.tasks import execute_refund

    # robust: a broker outage after commit is logged, not raised; `requeue_refunds` sends
    # the refund later.
    transaction.on_commit(lambda: execute_refund.delay(refund_id), robust=True)


def refunds_requeue(*, older_than: timedelta = timedelta(minutes=10), limit: int = 200) -> int:
    """Beat: send again approved refunds whose task was lost (the broker was down when
    they were approved). A refund is claimed once and Stripe is called with its own
    idempotency key, so a spare run is harmless."""
    stale = Refund.objects.filter(
        status=RefundStatus.APPROVED, updated_at__lt=timezone.now() - older_than
    )
    ids = list(stale.values_list("pk", flat=True)[:limit])
    for refund_id in ids:
        _enqueue(refund_id)
    return len(ids)


@transaction.atomic
def refund_approve(*, refund_id: int, actor: User) -> Refund:
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    if refund.status != RefundStatus.REQUESTED:
        raise ValidationFailed(
            f"Refund #{refund.pk} is {refund.get_status_display().lower()}, not awaiting review."
        )
    refund.status, refund.decided_by, refund.updated_at = (
        RefundStatus.APPROVED,
        actor,
        timezone.now(),
    )
    refund.save(update_fields=["status", "decided_by", "updated_at"])
    _log(refund, "Approved", actor)
    _enqueue(refund.pk)
    return refund


def refund_reject(*, refund_id: int, actor: User | None, reason: str) -> Refund:
    if not reason.strip():
        raise ValidationFailed("Give the customer a reason.")
    return _end(
        refund_id,
        RefundStatus.REJECTED,
        reason.strip(),
        actor,
        from_states=(RefundStatus.REQUESTED,),
    )


@transaction.atomic
def refund_retry(*, refund_id: int, actor: User) -> Refund:
    """Staff: send a failed refund again (if its credits are still unused and free), or
    nudge one stuck in `processing` (the same idempotency key: never a second refund)."""
    account, refund = _lock(refund_id)
    if refund.status == RefundStatus.PROCESSING:
        _log(refund, "Retried by staff", actor)
        _enqueue(refund.pk)
        return refund
    if refund.status != RefundStatus.FAILED:
        raise ValidationFailed("Only a failed or stuck refund can be retried.")

    ledger.lot_hold(account, lot=refund.purchase.lot, amount=refund.credits)
    refund.status, refund.updated_at, refund.failure_reason = (
        RefundStatus.APPROVED,
        timezone.now(),
        "",
    )
    refund.save(update_fields=["status", "updated_at", "failure_reason"])
    _log(refund, "Retried by staff", actor)
    _enqueue(refund.pk)
    return refund


# --- carrying a refund out (Celery) -------------------------------------------------------


def refund_execute(*, refund_id: int) -> str:
    """Send an approved refund to Stripe. Safe to run again: Stripe answers a repeated
    idempotency key with the refund it already made. Raises RetryableStripeError when
    trying again can help (network, 5xx, rate limit); a 4xx fails the refund for good."""
    refund = _claim(refund_id)
    if refund is None:
        return "nothing to do"
    purchase = refund.purchase
    try:
        result = gateway.create_refund(
            payment_intent_id=purchase.payment_intent_id,
            amount=refund.amount,
            refund_id=refund.pk,
            reason=refund.reason,
        )
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise RetryableStripeError(str(exc)) from exc
    except stripe.StripeError as exc:
        if exc.http_status is None or exc.http_status >= 500:
            raise RetryableStripeError(str(exc)) from exc
        _end(
            refund.pk,
            RefundStatus.FAILED,
            f"Stripe refused the refund: {exc.user_message or exc}",
            None,
        )
        return "failed"
    return refund_apply_stripe(
        stripe_refund=result.to_dict() if hasattr(result, "to_dict") else dict(result)
    )


def refund_give_up(*, refund_id: int, why: str) -> str:
    """The task's retries ran out. Stripe may or may not have made the refund, so the
    credits stay withheld and the refund stays `processing` for staff to retry (the same
    idempotency key makes a retry safe) or for Stripe's refund events to settle."""
    refund = Refund.objects.get(pk=refund_id)
    _log(refund, f"Stripe unreachable after several tries ({why[:200]}); waiting for staff")
    Account.objects.filter(pk=refund.account_id).update(
        flagged_for_review=True, flag_reason=f"Refund #{refund.pk} is stuck: Stripe unreachable"
    )
    return "stuck"


@transaction.atomic
def _claim(refund_id: int) -> Refund | None:

    refund = (
        Refund.objects.select_for_update(of=("self",)).select_related("purchase").get(pk=refund_id)
    )
    if refund.status not in (RefundStatus.APPROVED, RefundStatus.PROCESSING):
        return None
    if refund.status == RefundStatus.APPROVED:
        refund.status = RefundStatus.PROCESSING
        _log(refund, "Sending to Stripe")
    refund.attempts, refund.updated_at = F("attempts") + 1, timezone.now()
    refund.save(update_fields=["status", "attempts", "updated_at"])
    return refund


def refund_apply_stripe(*, stripe_refund: dict) -> str:
    """Make our refund follow Stripe's: from the task's answer, or `refund.updated` /
    `refund.failed` events (always re-read from Stripe by the caller when order matters)."""
    refund = Refund.objects.filter(stripe_refund_id=stripe_refund["id"]).first()
    if refund is None:
        ours = (stripe_refund.get("metadata") or {}).get("yunxin_refund_id")
        refund = Refund.objects.filter(pk=ours).first() if ours and str(ours).isdigit() else None
    if refund is None:
        return "not ours"
    status = stripe_refund.get("status")
    if status == "succeeded":
        return _succeed(refund.pk, stripe_refund["id"])
    if status in ("failed", "canceled"):
        why = stripe_refund.get("failure_reason") or status
        _end(
            refund.pk,
            RefundStatus.FAILED,
            f"The bank could not take the refund ({why}).",
            None,
            stripe_refund_id=stripe_refund["id"],
        )
        return "failed"
    _pending(refund.pk, stripe_refund["id"])
    return "pending"


@transaction.atomic
def _pending(refund_id: int, stripe_refund_id: str) -> None:
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    if refund.status in (RefundStatus.PROCESSING, RefundStatus.APPROVED):
        refund.status, refund.stripe_refund_id, refund.updated_at = (
            RefundStatus.PENDING,
            stripe_refund_id,
            timezone.now(),
        )
        refund.save(update_fields=["status", "stripe_refund_id", "updated_at"])
        _log(refund, f"Stripe refund {stripe_refund_id} is pending")


@transaction.atomic
def _succeed(refund_id: int, stripe_refund_id: str) -> str:
    account, refund = _lock(refund_id)
    if refund.status == RefundStatus.SUCCEEDED:
        return "already succeeded"
    if refund.status not in REFUND_OPEN:
        log.error(
            "Stripe refund %s succeeded but refund #%s is %s",
            stripe_refund_id,
            refund.pk,
            refund.status,
        )
        Account.objects.filter(pk=account.pk).update(
            flagged_for_review=True,
            flag_reason=f"Refund #{refund.pk} succeeded at Stripe after it ended here",
        )
        return "flagged"
    purchase = refund.purchase
    ledger.lot_debit_held(
        account,
        lot=purchase.lot,
        amount=refund.credits,
        kind=EntryKind.REFUND,
        reference=f"refund:{refund.pk}",
        memo=f"Refund of purchase #{purchase.pk} ({stripe_refund_id})",
    )
    Purchase.objects.filter(pk=purchase.pk).update(
        refunded_credits=F("refunded_credits") + refund.credits,
        refunded_amount=F("refunded_amount") + refund.amount,
    )
    refund.status, refund.stripe_refund_id, refund.updated_at = (
        RefundStatus.SUCCEEDED,
        stripe_refund_id,
        timezone.now(),
    )
    refund.save(update_fields=["status", "stripe_refund_id", "updated_at"])
    _log(refund, f"Refunded {minor(refund.amount, refund.currency)} ({stripe_refund_id})")
    webhook_emit(
        account_id=account.pk, event_type="refund.succeeded", data=_webhook_data(refund, account)
    )
    return "succeeded"


def _webhook_data(refund: Refund, account: Account) -> dict:
    return {
        "account_id": account.pk,
        "refund_id": refund.pk,
        "purchase_id": refund.purchase_id,
        "credits": format_credits(refund.credits),
        "amount": refund.amount,
        "currency": refund.currency,
        "balance": format_credits(account.balance),
        **(
            {"failure_reason": refund.failure_reason}
            if refund.status == RefundStatus.FAILED
            else {}
        ),
    }


@transaction.atomic
def _end(refund_id, status, note, actor, from_states=REFUND_OPEN, stripe_refund_id=None) -> Refund:
    """Fail, reject or expire an open refund: its withheld credits become spendable again."""
    account, refund = _lock(refund_id)
    if refund.status not in from_states:
        if refund.status == status:
            return refund
        raise ValidationFailed(
            f"Refund #{refund.pk} is already {refund.get_status_display().lower()}."
        )
    ledger.lot_release(account, lot=refund.purchase.lot, amount=refund.credits)
    refund.status, refund.updated_at = status, timezone.now()
    refund.failure_reason = note[:500]
    refund.decided_by = actor or refund.decided_by
    if stripe_refund_id:
        refund.stripe_refund_id = stripe_refund_id
    refund.save()
    _log(refund, note, actor)
    if status == RefundStatus.FAILED:
        webhook_emit(
            account_id=account.pk, event_type="refund.failed", data=_webhook_data(refund, account)
        )
    return refund


# --- refunds made in Stripe's own dashboard ----------------------------------------------


def charge_refunded(*, payment_intent_id: str) -> int:
    """`charge.refunded`: bring refunds made outside the portal into the ledger, once each
    (Refund.stripe_refund_id is UNIQUE). Returns how many were new."""
    purchase = Purchase.objects.filter(payment_intent_id=payment_intent_id).first()
    if purchase is None:
        return 0
    try:
        refunds = gateway.list_refunds(payment_intent_id=payment_intent_id)
    except stripe.StripeError as exc:
        raise RetryableStripeError(str(exc)) from exc
    new = 0
    for stripe_refund in refunds:
        if stripe_refund["status"] != "succeeded":
            continue
        if Refund.objects.filter(stripe_refund_id=stripe_refund["id"]).exists():
            continue
        ours = (stripe_refund.get("metadata") or {}).get("yunxin_refund_id")
        if ours:
            refund_apply_stripe(stripe_refund=stripe_refund)
            continue
        new += _reconcile_outside(purchase.pk, stripe_refund)
    return new


@transaction.atomic
def _reconcile_outside(purchase_id: int, stripe_refund: dict) -> int:
    account_id = Purchase.objects.values_list("account_id", flat=True).get(pk=purchase_id)
    account = ledger.lock_account(account_id)
    purchase = (
        Purchase.objects.select_for_update(of=("self",)).select_related("lot").get(pk=purchase_id)
    )
    if Refund.objects.filter(stripe_refund_id=stripe_refund["id"]).exists():
        return 0
    amount = int(stripe_refund["amount"])
    wanted = -(
        -purchase.credits * amount // purchase.amount
    )  # credits the money paid for, rounded up
    take = min(wanted, purchase.lot.remaining, max(account.available, 0))
    refund = Refund.objects.create(
        account=account,
        purchase=purchase,
        credits=max(take, 1),
        amount=amount,
        currency=purchase.currency,
        status=RefundStatus.PROCESSING,
        source="stripe",
        idempotency_key=f"stripe:{stripe_refund['id']}",
        stripe_refund_id=stripe_refund["id"],
        reason="Refunded in the Stripe dashboard",
    )
    if take:
        ledger.lot_hold(account, lot=purchase.lot, amount=take)
        ledger.lot_debit_held(
            account,
            lot=purchase.lot,
            amount=take,
            kind=EntryKind.REFUND,
            reference=f"refund:{refund.pk}",
            memo=f"Refunded in Stripe ({stripe_refund['id']})",
        )
    Purchase.objects.filter(pk=purchase.pk).update(
        refunded_credits=F("refunded_credits") + take, refunded_amount=F("refunded_amount") + amount
    )
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.SUCCEEDED, credits=max(take, 1))
    note = f"Reconciled from Stripe: {format_credits(take)} credits removed"
    if take < wanted:
        note += f"; {format_credits(wanted - take)} had already been spent"
        Account.objects.filter(pk=account.pk).update(
            flagged_for_review=True,
            flag_reason=f"Stripe refund {stripe_refund['id']} exceeds unused credits",
        )
    refund.status = RefundStatus.SUCCEEDED
    _log(refund, note)
    return 1


# --- the refund window (beat) ---------------------------------------------------------------


def refund_windows_close(*, now: datetime | None = None) -> int:
    """Close windows that have passed: the purchase shows as no longer refundable, and
    requests still awaiting review lose their hold. Idempotent."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.REFUND_WINDOW_DAYS)
    due = Purchase.objects.filter(
        status=PurchaseStatus.PAID, paid_at__lte=cutoff, refund_window_closed_at__isnull=True
    )
    closed = 0
    for purchase_id in due.values_list("pk", flat=True)[:500]:
        for refund_id in Refund.objects.filter(
            purchase_id=purchase_id, status=RefundStatus.REQUESTED
        ).values_list("pk", flat=True):
            _end(
                refund_id,
                RefundStatus.EXPIRED,
                "The refund window closed before the request was reviewed.",
                None,
                from_states=(RefundStatus.REQUESTED,),
            )
        closed += Purchase.objects.filter(
            pk=purchase_id, refund_window_closed_at__isnull=True
        ).update(refund_window_closed_at=now)
    return closed


def _reminder_text(purchase: Purchase) -> str:
    deadline = refund_deadline(purchase.paid_at)
    return (
        f"Purchase #{purchase.pk} still has {format_credits(purchase.lot.remaining)} unused "
        f"credits. You can ask for a refund of unused credits until {deadline:%Y-%m-%d %H:%M} "
        f"UTC in Settings → Billing: {settings.SITE_URL.rstrip('/')}/settings/billing/"
    )


def refund_reminders_send(*, now: datetime | None = None) -> int:
    """Email owners two days before a window with unused credits closes. Once each: the
    row is marked first (claimed), then mailed; a mail failure unmarks it for next time."""
    now = now or timezone.now()
    days = settings.REFUND_WINDOW_DAYS
    due = Purchase.objects.filter(
        status=PurchaseStatus.PAID,
        refund_reminder_sent_at__isnull=True,
        disputed_at__isnull=True,
        paid_at__lte=now - timedelta(days=days - 2),
        paid_at__gt=now - timedelta(days=days),
        lot__remaining__gt=0,
    ).select_related("lot", "account__owner")
    sent = 0
    for purchase in due[:500]:
        if not Purchase.objects.filter(pk=purchase.pk, refund_reminder_sent_at__isnull=True).update(
            refund_reminder_sent_at=now
        ):
            continue
        try:
            send_mail(
                subject="[Yunxin] Your refund window closes in 2 days",
                message=_reminder_text(purchase),
                from_email=None,
                recipient_list=[purchase.account.owner.email],
            )
        except OSError:
            Purchase.objects.filter(pk=purchase.pk).update(refund_reminder_sent_at=None)
            continue
        sent += 1
    return sent
