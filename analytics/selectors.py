"""Reads of usage, scoped to an account."""

from __future__ import annotations

from accounts.models import Account
from analytics.models import UsageEvent
from yunxin.errors import NotFound


def usage_event_get(*, account: Account, request_id: str) -> UsageEvent:
    event = (
        UsageEvent.objects.select_related("model", "rate", "api_key")
        .filter(account=account, request_id=request_id)
        .first()
    )
    if event is None:
        raise NotFound("No metered request with that id.")
    return event
