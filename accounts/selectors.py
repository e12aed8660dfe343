"""Reads scoped to an account."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Account, ApiKey
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
