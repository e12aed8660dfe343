"""Writes for outgoing webhooks: endpoints, their secrets, the low-balance threshold, and
`webhook_emit`, which every service that causes an event calls.

Emission is an outbox: the event and its delivery rows are written in the caller's
transaction, so they exist exactly when what caused them committed; the delivery tasks
are enqueued on commit. Should the broker be down then, the beat task
(`dispatch.webhook_deliveries_enqueue_due`) picks the rows up once their lease runs out.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from accounts.tiers import tier_feature_check
from accounts.webhooks import delivery
from accounts.webhooks.events import SUBSCRIBABLE, TEST_EVENT, check_data
from accounts.webhooks.models import (
    DeliveryStatus,
    DisabledReason,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from yunxin.errors import Conflict, NotFound, ValidationFailed

MAX_ENDPOINTS_PER_ACCOUNT = 20
# After a rotation the previous secret keeps signing (beside the new one) this long.
SECRET_OVERLAP = timedelta(hours=24)
# A queued delivery task that has not started within this time is queued again by beat.
ENQUEUE_LEASE = timedelta(minutes=10)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_event_id() -> str:
    return "evt_" + base64.b32encode(secrets.token_bytes(15)).decode().lower()


def require_webhooks(account: Account) -> None:
    """403 `tier_feature_unavailable` below the tiers whose benefits include webhooks."""
    tier_feature_check(tier=account.tier, feature="webhooks", what="Webhooks")


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 2000:
        raise ValidationFailed("A URL has at most 2000 characters.")
    try:
        delivery.parse_url(url)
    except delivery.DeliveryError as exc:
        raise ValidationFailed(exc.message) from exc
    return url


def _clean_event_types(event_types: Iterable[str]) -> list[str]:
    chosen = set(event_types or [])
    unknown = chosen - set(SUBSCRIBABLE)
    if unknown:
        raise ValidationFailed(f"Unknown event type(s): {', '.join(sorted(unknown))}.")
    if not chosen:
        raise ValidationFailed("Choose at least one event type.")
    return [name for name in SUBSCRIBABLE if name in chosen]


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 200:
        raise ValidationFailed("A description has at most 200 characters.")
    return description


def _locked_endpoint(account: Account, endpoint_id: int) -> WebhookEndpoint:
    endpoint = (
        WebhookEndpoint.objects.select_for_update().filter(account=account, pk=endpoint_id).first()
    )
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


@transaction.atomic
def webhook_endpoint_create(
    *, account: Account, url: str, event_types: Iterable[str], description: str = ""
) -> WebhookEndpoint:
    require_webhooks(account)
    if WebhookEndpoint.objects.filter(account=account).count() >= MAX_ENDPOINTS_PER_ACCOUNT:
        raise ValidationFailed(f"An account has at most {MAX_ENDPOINTS_PER_ACCOUNT} endpoints.")
    return WebhookEndpoint.objects.create(
        account=account,
        url=_clean_url(url),
        event_types=_clean_event_types(event_types),
        description=_clean_description(description),
        secret=new_secret(),
    )


@transaction.atomic
def webhook_endpoint_update(
    *,
    account: Account,
    endpoint_id: int,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given (None: unchanged). Enabling again also forgets past failures,
    so an endpoint disabled for failing gets a fresh five days."""
    require_webhooks(account)
    endpoint = _locked_endpoint(account, endpoint_id)
    if url is not None and url.strip() != endpoint.url:
        endpoint.url = _clean_url(url)
        endpoint.failing_since = None  # a new address gets a fresh five days
    if event_types is not None:
        endpoint.event_types = _clean_event_types(event_types)
    if description is not None:
        endpoint.description = _clean_description(description)
    now = timezone.now()
    if enabled is True and endpoint.disabled_at is not None:
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
        endpoint.failing_since, endpoint.disabled_notified_at = None, None
    elif enabled is False and endpoint.disabled_at is None:
        endpoint.disabled_at, endpoint.disabled_reason = now, DisabledReason.CUSTOMER
    endpoint.updated_at = now
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, account: Account, endpoint_id: int) -> None:
    """Deletes its deliveries and attempts too; the account's events stay."""
    require_webhooks(account)
    _locked_endpoint(account, endpoint_id).delete()


@transaction.atomic
def webhook_endpoint_rotate_secret(*, account: Account, endpoint_id: int) -> WebhookEndpoint:
    """A new secret signs from now on; the one it replaces keeps signing beside it for
    24 hours. Rotating again inside that window retires the older one at once."""
    require_webhooks(account)
    endpoint = _locked_endpoint(account, endpoint_id)
    now = timezone.now()
    endpoint.previous_secret, endpoint.secret = endpoint.secret, new_secret()
    endpoint.previous_secret_expires_at = now + SECRET_OVERLAP
    endpoint.updated_at = now
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return endpoint


@transaction.atomic
def webhook_settings_update(*, account: Account, low_balance_threshold: int | None) -> Account:
    """The `credits.low_balance` threshold in micro-credits (None: never)."""
    require_webhooks(account)
    if low_balance_threshold is not None and low_balance_threshold <= 0:
        raise ValidationFailed("A low-balance threshold must be more than 0 credits.")
    Account.objects.filter(pk=account.pk).update(
        webhook_low_balance_threshold=low_balance_threshold
    )
    account.webhook_low_balance_threshold = low_balance_threshold
    return account


# --- emission --------------------------------------------------------------------------


@transaction.atomic
def webhook_emit(*, account_id: int, event_type: str, data: dict) -> WebhookEvent | None:
    """Record an event for an account and one delivery per active endpoint subscribed to
    its type; the deliveries are sent after the surrounding transaction commits.

    Call it inside the transaction of the change that causes the event. `data` must
    match the event type's documented schema (accounts/webhooks/events.py) exactly;
    credits are decimal strings (billing.money.format_credits). Returns None, having
    written nothing, when no endpoint wants the event.
    """
    check_data(event_type, data)
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(
            account_id=account_id, disabled_at__isnull=True, paused_at__isnull=True
        )
        if event_type in endpoint.event_types
    ]
    if not endpoints:
        return None
    return _create_event(account_id, event_type, data, endpoints)


def _create_event(
    account_id: int, event_type: str, data: dict, endpoints: list[WebhookEndpoint]
) -> WebhookEvent:
    now = timezone.now()
    event_id = new_event_id()
    body = {"id": event_id, "type": event_type, "created": _iso(now), "data": data}
    event = WebhookEvent.objects.create(
        id=event_id,
        account_id=account_id,
        type=event_type,
        payload=json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":")),
        created_at=now,
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            event=event, endpoint=endpoint, next_attempt_at=now + ENQUEUE_LEASE, created_at=now
        )
        for endpoint in endpoints
    )
    for item in deliveries:
        enqueue_attempt(item.pk, 1)
    return event


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def enqueue_attempt(delivery_id: int, attempt: int) -> None:
    """Queue attempt number `attempt` once the transaction commits. A lost message is
    harmless: beat queues the delivery again when its lease runs out."""
    from accounts.tasks import webhook_deliver

    transaction.on_commit(lambda: webhook_deliver.delay(delivery_id, attempt), robust=True)


@transaction.atomic
def webhook_endpoint_send_test(*, account: Account, endpoint_id: int) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint only, whatever it subscribes to."""
    require_webhooks(account)
    endpoint = _locked_endpoint(account, endpoint_id)
    if not endpoint.is_active:
        raise Conflict("This endpoint is disabled: enable it before sending a test event.")
    data = {
        "endpoint_id": endpoint.pk,
        "message": "Hello from Yunxin: this endpoint receives and verifies webhooks.",
    }
    check_data(TEST_EVENT, data)
    event = _create_event(account.pk, TEST_EVENT, data, [endpoint])
    return event.deliveries.select_related("event", "endpoint").get()


@transaction.atomic
def webhook_delivery_redeliver(*, account: Account, delivery_id: int) -> WebhookDelivery:
    """Send the same event again now, with the same `webhook-id`; if that attempt fails,
    it is retried on the usual schedule."""
    require_webhooks(account)
    item = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("event", "endpoint")
        .filter(pk=delivery_id, endpoint__account=account)
        .first()
    )
    if item is None:
        raise NotFound("No such webhook delivery.")
    if not item.endpoint.is_active:
        raise Conflict("This endpoint is disabled: enable it before redelivering.")
    if item.status == DeliveryStatus.SENDING:
        raise Conflict("This delivery is being sent right now.")
    item.status = DeliveryStatus.PENDING
    item.retry_base = item.attempt_count
    item.next_attempt_at = timezone.now() + ENQUEUE_LEASE
    item.save(update_fields=["status", "retry_base", "next_attempt_at"])
    enqueue_attempt(item.pk, item.attempt_count + 1)
    return item
