"""Writes for accounts, tiers and API keys. Views, admin, commands and tasks call these."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, ApiKey, LimitPeriod, TierChange, User
from accounts.tiers import TIERS
from accounts.webhooks.triggers import webhooks_tier_changed
from billing.services.ledger import credits_grant_starter
from yunxin.errors import InvalidApiKey, NotFound, ValidationFailed

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"^yx_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")


def _digest(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no password stretching
    # needed) and keeps authentication cheap on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def account_create_for_user(*, user: User) -> Account:
    """Every user gets exactly one Account, with the starter credit; calling this again
    returns the existing one and grants nothing twice."""
    account, created = Account.objects.get_or_create(owner=user)
    if created:
        credits_grant_starter(account_id=account.pk)
        account.refresh_from_db()
    return account


@transaction.atomic
def account_set_tier(
    *, account_id: int, tier: str, actor: User | None, source: str = "staff", reason: str = ""
) -> Account:
    if tier not in TIERS:
        raise ValidationFailed(f"Unknown tier {tier!r}.")
    account = Account.objects.select_for_update().get(pk=account_id)
    if account.tier == tier:
        return account
    previous = account.tier
    TierChange.objects.create(
        account=account,
        from_tier=previous,
        to_tier=tier,
        actor=actor,
        source=source,
        reason=reason,
    )
    account.tier = tier
    account.save(update_fields=["tier"])
    # `subscription.updated`, and webhook endpoints paused or resumed with the benefit.
    webhooks_tier_changed(account=account, previous_tier=previous, source=source)
    return account


def _check_limits(credit_limit: int | None, limit_period: str, expires_at: datetime | None) -> None:
    if credit_limit is not None and credit_limit <= 0:
        raise ValidationFailed("A credit limit must be more than 0 credits.")
    if limit_period not in LimitPeriod.values:
        raise ValidationFailed(f"Unknown limit period {limit_period!r}.")
    if limit_period and credit_limit is None:
        raise ValidationFailed("A reset period needs a credit limit.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("The expiry date must be in the future.")


def api_key_create(
    *,
    account: Account,
    name: str,
    created_by: User | None,
    credit_limit: int | None = None,
    limit_period: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it with the full secret, which is never retrievable again."""
    name = name.strip()
    if not name:
        raise ValidationFailed("Give the key a name.")
    if len(name) > 100:
        raise ValidationFailed("A key name has at most 100 characters.")
    _check_limits(credit_limit, limit_period, expires_at)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    full_key = f"yx_{prefix}_{secret}"
    key = ApiKey.objects.create(
        account=account,
        name=name,
        prefix=prefix,
        secret_hash=_digest(full_key),
        created_by=created_by,
        credit_limit=credit_limit,
        limit_period=limit_period,
        expires_at=expires_at,
    )
    return key, full_key


@transaction.atomic
def api_key_set_limits(
    *,
    account: Account,
    key_id: int,
    credit_limit: int | None,
    limit_period: str,
    expires_at: datetime | None,
) -> ApiKey:
    """Change a key's spend limit and expiry. A new reset period starts counting afresh."""
    key = ApiKey.objects.select_for_update().filter(account=account, pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    if expires_at != key.expires_at:
        _check_limits(credit_limit, limit_period, expires_at)
    else:
        _check_limits(credit_limit, limit_period, None)
    if limit_period != key.limit_period or key.credit_limit is None:
        # Spend is tracked only while a key has a limit: a new limit or period starts afresh.
        key.period_spent, key.period_started_at = 0, timezone.now()
    key.credit_limit, key.limit_period, key.expires_at = credit_limit, limit_period, expires_at
    key.save(
        update_fields=[
            "credit_limit",
            "limit_period",
            "expires_at",
            "period_spent",
            "period_started_at",
        ]
    )
    return key


@transaction.atomic
def api_key_revoke(*, account: Account, key_id: int) -> ApiKey:
    key = ApiKey.objects.select_for_update().filter(account=account, pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_authenticate(*, raw_key: str) -> ApiKey:
    """The key for a presented secret, or InvalidApiKey. One indexed lookup by prefix."""
    match = KEY_RE.match(raw_key or "")
    if not match:
        raise InvalidApiKey("The API key is malformed.")
    key = (
        ApiKey.objects.select_related("account", "account__owner")
        .filter(prefix=match.group(1))
        .first()
    )
    if key is None or not hmac.compare_digest(key.secret_hash, _digest(raw_key)):
        raise InvalidApiKey("The API key is not valid.")
    if key.revoked_at is not None:
        raise InvalidApiKey("The API key has been revoked.")
    if key.is_expired:
        raise InvalidApiKey("The API key has expired.")
    if not key.account.owner.is_active:
        raise InvalidApiKey("The account of this API key is disabled.")
    _schedule_last_used(key)
    return key


def _schedule_last_used(key: ApiKey) -> None:
    """Record use without a database write per request: at most one task per key per
    resolution window, deduplicated through the shared cache."""
    from accounts.tasks import api_key_mark_used

    resolution = settings.API_KEY_LAST_USED_RESOLUTION_SECONDS
    now = timezone.now()
    if key.last_used_at and (now - key.last_used_at).total_seconds() < resolution:
        return
    try:
        if cache.add(f"apikey-used:{key.pk}", 1, timeout=resolution):
            api_key_mark_used.delay(key.pk, now.isoformat())
    except Exception:
        log.warning("could not schedule last-used for key %s", key.pk, exc_info=True)


def api_key_mark_used(*, key_id: int, used_at: datetime) -> None:
    """Idempotent: only ever moves last_used_at forward."""
    ApiKey.objects.filter(pk=key_id).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=used_at)
    ).update(last_used_at=used_at)
