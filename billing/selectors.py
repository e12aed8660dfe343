"""Reads of credits, scoped to an account."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import Account
from billing.models import CreditLot, LedgerEntry, LotKind


def lot_list(*, account: Account) -> QuerySet[CreditLot]:
    return CreditLot.objects.filter(account=account).order_by("-created_at", "-id")


def lot_refundable_until(lot: CreditLot) -> datetime | None:
    """Only purchases are refundable, until REFUND_WINDOW_DAYS after payment."""
    if lot.kind != LotKind.PURCHASE:
        return None
    return lot.created_at + timedelta(days=settings.REFUND_WINDOW_DAYS)


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
