"""Reads scoped to an account."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet

from accounts.models import Account, ApiKey, LimitPeriod
from yunxin.errors import NotFound


def api_key_list(*, account: Account) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(account=account).order_by("revoked_at", "-created_at", "-id")


def api_key_get(*, account: Account, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(account=account, pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    return key


def account_for_user(user) -> Account | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.account
    except Account.DoesNotExist:
        return None


def period_start(period: str, now: datetime) -> datetime | None:
    """Start of the current limit period (UTC calendar day, ISO week, month)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == LimitPeriod.DAILY:
        return day
    if period == LimitPeriod.WEEKLY:
        return day - timedelta(days=day.weekday())
    if period == LimitPeriod.MONTHLY:
        return day.replace(day=1)
    return None


def api_key_period_spent(key: ApiKey, now: datetime) -> int:
    """Micro-credits the key has spent in its current limit period."""
    start = period_start(key.limit_period, now)
    if start is not None and (key.period_started_at is None or key.period_started_at < start):
        return 0
    return key.period_spent
