"""Where other services hand events to webhooks: one call each, cheap when nothing fires.

- `webhooks_after_charge`: metering calls it under the account lock right after a
  usage debit. Two comparisons on the locked row; a query only when the charge crosses
  the low-balance threshold or empties the balance.
- `webhooks_key_limit_refused`: metering calls it when an authorize is refused with
  `key_limit_exceeded`. One conditional update the first time per key and limit period,
  nothing after that.
- `webhooks_tier_changed`: account_set_tier calls it in its transaction.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, ApiKey
from accounts.selectors import api_key_period_spent, period_start
from accounts.tiers import TIERS
from accounts.webhooks.models import WebhookEndpoint
from accounts.webhooks.services import webhook_emit
from billing.money import format_credits

log = logging.getLogger(__name__)


def webhooks_after_charge(*, account: Account, amount: int) -> None:
    """`account` is the locked row with balance and held already moved by the debit.

    low_balance: the available balance (balance minus holds, with this request's own
    reservation released) went from at least the threshold to below it.
    depleted: the balance went from above zero to zero or below.
    """
    if amount <= 0:
        return
    available = account.balance - account.held
    threshold = account.webhook_low_balance_threshold
    if threshold is not None and available < threshold <= available + amount:
        webhook_emit(
            account_id=account.pk,
            event_type="credits.low_balance",
            data={
                "account_id": account.pk,
                "threshold": format_credits(threshold),
                "available": format_credits(available),
                "balance": format_credits(account.balance),
            },
        )
    if account.balance <= 0 < account.balance + amount:
        webhook_emit(
            account_id=account.pk,
            event_type="credits.depleted",
            data={
                "account_id": account.pk,
                "available": format_credits(available),
                "balance": format_credits(account.balance),
            },
        )


def webhooks_key_limit_refused(*, key: ApiKey) -> None:
    """Once per key, limit and period. Outside the refused transaction (it rolled back);
    never turns the 402 into an error of its own."""
    if key.credit_limit is None:
        return
    now = timezone.now()
    start = period_start(key.limit_period, now) or key.period_started_at
    notice = f"{key.credit_limit}:{start.isoformat() if start else ''}"
    if key.limit_reached_notice == notice:
        return
    try:
        with transaction.atomic():
            claimed = (
                ApiKey.objects.filter(pk=key.pk)
                .exclude(limit_reached_notice=notice)
                .update(limit_reached_notice=notice)
            )
            key.limit_reached_notice = notice
            if claimed:
                webhook_emit(
                    account_id=key.account_id,
                    event_type="api_key.limit_reached",
                    data={
                        "account_id": key.account_id,
                        "api_key_id": key.pk,
                        "api_key_name": key.name,
                        "api_key_prefix": key.display_prefix,
                        "credit_limit": format_credits(key.credit_limit),
                        "limit_period": key.limit_period,
                        "period_spent": format_credits(api_key_period_spent(key, now)),
                    },
                )
    except Exception:
        log.exception("Could not emit api_key.limit_reached for key %s", key.pk)


def webhooks_tier_changed(*, account: Account, previous_tier: str, source: str) -> None:
    """Resume endpoints when the new tier has webhooks, send `subscription.updated`, then
    pause them when it has not (so a downgrade is still announced). Tiers without
    webhooks on both sides cost no query."""
    had, has = TIERS[previous_tier].webhooks, account.tier_info.webhooks
    if not (had or has):
        return
    now = timezone.now()
    endpoints = WebhookEndpoint.objects.filter(account_id=account.pk)
    if has:
        endpoints.filter(paused_at__isnull=False).update(paused_at=None, updated_at=now)
    tier = account.tier_info
    webhook_emit(
        account_id=account.pk,
        event_type="subscription.updated",
        data={
            "account_id": account.pk,
            "previous_tier": previous_tier,
            "tier": tier.name,
            "priority": tier.priority,
            "rate_limit_per_minute": tier.rate_limit_per_minute,
            "webhooks_enabled": tier.webhooks,
            "source": source,
        },
    )
    if not has:
        endpoints.filter(paused_at__isnull=True).update(paused_at=now, updated_at=now)
