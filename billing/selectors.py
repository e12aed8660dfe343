"""Reads of credits and billing, scoped to an account."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from billing.models import (
    CreditLot,
    CreditPack,
    LedgerEntry,
    LotKind,
    Purchase,
    PurchaseStatus,
    Refund,
    Subscription,
    SubscriptionPlan,
)
from yunxin.errors import NotFound

# Subscription statuses in which the account keeps the plan's tier.
KEEPS_TIER = {"active", "trialing", "past_due"}


def lot_list(*, account: Account) -> QuerySet[CreditLot]:
    return CreditLot.objects.filter(account=account).order_by("-created_at", "-id")


def refund_deadline(paid_at: datetime | None) -> datetime | None:
    return paid_at + timedelta(days=settings.REFUND_WINDOW_DAYS) if paid_at else None


def refundable_credits(purchase: Purchase, account: Account, now: datetime) -> int:
    """What may be refunded of a purchase now (0 when nothing may): its unspent credits,
    within the window, not disputed, and not beyond what the account has free."""
    if purchase.status != PurchaseStatus.PAID or purchase.lot is None or purchase.disputed_at:
        return 0
    if refund_deadline(purchase.paid_at) <= now:
        return 0
    return max(min(purchase.lot.remaining, account.available), 0)


def refund_list(*, account: Account, limit: int = 20) -> list[Refund]:
    return list(Refund.objects.filter(account=account).order_by("-created_at", "-id")[:limit])


def lot_refundable_until(lot: CreditLot) -> datetime | None:
    """Only purchases are refundable, until REFUND_WINDOW_DAYS after payment."""
    if lot.kind != LotKind.PURCHASE:
        return None
    return refund_deadline(lot.created_at)


def ledger_list(
    *,
    account: Account,
    kind: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[LedgerEntry]:
    entries = LedgerEntry.objects.filter(account=account)
    if kind:
        entries = entries.filter(kind=kind)
    if start:
        entries = entries.filter(created_at__gte=start)
    if end:
        entries = entries.filter(created_at__lt=end)
    return entries.order_by("-created_at", "-id")


def purchase_list(*, account: Account, limit: int = 20) -> list[Purchase]:
    purchases = list(
        Purchase.objects.filter(account=account)
        .exclude(status=PurchaseStatus.PENDING, checkout_session_id__isnull=True)
        .select_related("lot", "pack")
        .order_by("-created_at", "-id")[:limit]
    )
    now = timezone.now()
    for p in purchases:
        p.refund_deadline = refund_deadline(p.paid_at)
        p.refundable = refundable_credits(p, account, now)
    return purchases


def purchase_get(*, account: Account, purchase_id: int) -> Purchase:
    purchase = (
        Purchase.objects.select_related("lot").filter(account=account, pk=purchase_id).first()
    )
    if purchase is None:
        raise NotFound("No such purchase.")
    purchase.refund_deadline = refund_deadline(purchase.paid_at)
    return purchase


def purchase_by_session(*, account: Account, session_id: str) -> Purchase:
    match = Purchase.objects.filter(account=account, checkout_session_id=session_id).first()
    if not session_id or match is None:
        raise NotFound("No such purchase.")
    return purchase_get(account=account, purchase_id=match.pk)


def current_subscription(*, account: Account) -> Subscription | None:
    return (
        Subscription.objects.select_related("plan")
        .filter(account=account, status__in=KEEPS_TIER | {"incomplete"})
        .order_by("-updated_at")
        .first()
    )


def packs_for_sale() -> QuerySet[CreditPack]:
    return CreditPack.objects.filter(active=True).order_by("sort_order", "price")


def plans_by_tier() -> dict[str, SubscriptionPlan]:
    return {p.tier: p for p in SubscriptionPlan.objects.filter(active=True)}
