"""Sending deliveries: one attempt per task, retries planned in the database.

A task `webhook_deliver(delivery_id, attempt)` makes attempt number `attempt` only if the
delivery is pending and that is its next attempt: a task that runs twice, or a stale one,
does nothing, and a delivered delivery is never sent again unless someone redelivers it.
Claiming the attempt (status `sending`, a lease in `next_attempt_at`) commits before the
HTTP request; the outcome and the attempt row are written after it, so no transaction is
open during network I/O. Retries are times in `next_attempt_at`; a beat task claims due
rows with `select_for_update(skip_locked=True)` and queues them, so no broker countdown is
ever longer than an hour (Redis redelivers those).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from accounts.webhooks import delivery
from accounts.webhooks.models import (
    DeliveryStatus,
    DisabledReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from accounts.webhooks.services import ENQUEUE_LEASE, enqueue_attempt

log = logging.getLogger(__name__)

# Waits after the 1st, 2nd, … failed attempt of a round: nine attempts over about 22 hours.
RETRY_SCHEDULE = [
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
]
# A delivery still `sending` this long after its claim lost its worker: beat retries it.
SEND_LEASE = timedelta(minutes=10)
# An endpoint failing without one success for this long is disabled and its owner emailed.
DISABLE_AFTER = timedelta(days=5)
EXCERPT_CHARS = 1000


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    attempt: int
    endpoint_id: int
    url: str
    event_id: str
    payload: str
    secrets: list[str]


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its 24 hours after rotation last."""
    keys = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires and expires > now:
        keys.append(endpoint.previous_secret)
    return keys


def signature_headers(*, msg_id: str, payload: str, secrets: list[str], at: datetime) -> dict:
    """Standard Webhooks headers; one `v1,<signature>` per secret, space-separated."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(msg_id, at, payload) for s in secrets),
    }


def webhook_delivery_attempt(*, delivery_id: int, attempt: int) -> str:
    """Make one attempt; returns what happened, for the worker log."""
    job = _claim(delivery_id, attempt)
    if job is None:
        return "skipped"
    started_at = timezone.now()
    headers = signature_headers(
        msg_id=job.event_id, payload=job.payload, secrets=job.secrets, at=started_at
    )
    try:
        result: delivery.Answer | delivery.DeliveryError = delivery.post(
            job.url, body=job.payload.encode(), headers=headers
        )
    except delivery.DeliveryError as exc:
        result = exc
    return _record(job, started_at, result)


@transaction.atomic
def _claim(delivery_id: int, attempt: int) -> _Job | None:
    item = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint", "event")
        .filter(pk=delivery_id)
        .first()
    )
    if item is None or item.status != DeliveryStatus.PENDING:
        return None  # deleted, delivered, given up, or another task is sending it
    if item.attempt_count != attempt - 1:
        return None  # a duplicate or stale task
    now = timezone.now()
    if item.endpoint.disabled_at is not None:
        item.status, item.next_attempt_at = DeliveryStatus.FAILED, None
        item.last_error = "Not sent: the endpoint is disabled."
        item.save(update_fields=["status", "next_attempt_at", "last_error"])
        return None
    item.status, item.attempt_count = DeliveryStatus.SENDING, attempt
    item.next_attempt_at, item.last_attempt_at = now + SEND_LEASE, now
    item.save(update_fields=["status", "attempt_count", "next_attempt_at", "last_attempt_at"])
    return _Job(
        delivery_id=item.pk,
        attempt=attempt,
        endpoint_id=item.endpoint_id,
        url=item.endpoint.url,
        event_id=item.event_id,
        payload=item.event.payload,
        secrets=signing_secrets(item.endpoint, now),
    )


@transaction.atomic
def _record(job: _Job, started_at: datetime, result) -> str:
    item = WebhookDelivery.objects.select_for_update().filter(pk=job.delivery_id).first()
    if item is None:
        return "endpoint deleted"
    ok = isinstance(result, delivery.Answer)
    WebhookAttempt.objects.create(
        delivery=item,
        number=job.attempt,
        started_at=started_at,
        succeeded=ok,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        response_excerpt=result.excerpt[:EXCERPT_CHARS],
        error="" if ok else result.message[:500],
    )
    if item.status != DeliveryStatus.SENDING or item.attempt_count != job.attempt:
        return "recorded late"  # the lease ran out and beat moved on meanwhile
    _apply_outcome(item, job.endpoint_id, result, timezone.now())
    item.save()
    return item.status


def _apply_outcome(item: WebhookDelivery, endpoint_id: int, result, now: datetime) -> None:
    """Delivered, retry later, or give up; and the endpoint's health with it."""
    item.last_status_code = result.status_code
    if isinstance(result, delivery.Answer):
        item.status, item.delivered_at, item.next_attempt_at = DeliveryStatus.SUCCEEDED, now, None
        item.last_error = ""
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(
            last_success_at=now, failing_since=None
        )
        return
    item.last_error = result.message[:500]
    wait = _retry_wait(item, result)
    item.status = DeliveryStatus.PENDING if wait else DeliveryStatus.FAILED
    item.next_attempt_at = now + wait if wait else None
    _endpoint_failed(endpoint_id, result, now)


def _retry_wait(item: WebhookDelivery, error: delivery.DeliveryError) -> timedelta | None:
    if not error.retryable:
        return None
    failed_in_round = item.attempt_count - item.retry_base
    if failed_in_round > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[failed_in_round - 1]


def _endpoint_failed(endpoint_id: int, error: delivery.DeliveryError, now: datetime) -> None:
    """Start the failing clock; disable on 410 Gone or after five days without a success.
    Conditional updates, so concurrent attempts need no lock and disable it once."""
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint_id)
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    active = endpoints.filter(disabled_at__isnull=True)
    if error.status_code == 410:
        disabled = active.update(disabled_at=now, disabled_reason=DisabledReason.GONE)
    else:
        disabled = active.filter(failing_since__lte=now - DISABLE_AFTER).update(
            disabled_at=now, disabled_reason=DisabledReason.FAILING
        )
    if disabled:
        from accounts.tasks import webhook_endpoint_disabled_email

        transaction.on_commit(
            lambda: webhook_endpoint_disabled_email.delay(endpoint_id), robust=True
        )


def webhook_deliveries_enqueue_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """Beat: queue every delivery whose retry time (or lease) has come. Concurrent runs
    skip each other's rows; each queued row gets a lease so the next run leaves it."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING],
                next_attempt_at__lte=now,
            )
            .order_by("next_attempt_at")
            .only("id", "status", "attempt_count", "next_attempt_at")[:batch]
        )
        for item in due:
            # `sending` past its lease: the worker died mid-attempt; that attempt counts.
            item.status, item.next_attempt_at = DeliveryStatus.PENDING, now + ENQUEUE_LEASE
            enqueue_attempt(item.pk, item.attempt_count + 1)
        WebhookDelivery.objects.bulk_update(due, ["status", "next_attempt_at"])
    return len(due)


def webhook_endpoint_notify_disabled(*, endpoint_id: int) -> bool:
    """Email the account owner that an endpoint was disabled for them. At most once per
    disabling: the notice is claimed by a conditional update before the email goes."""
    claimed = WebhookEndpoint.objects.filter(
        pk=endpoint_id,
        disabled_at__isnull=False,
        disabled_reason__in=[DisabledReason.GONE, DisabledReason.FAILING],
        disabled_notified_at__isnull=True,
    ).update(disabled_notified_at=timezone.now())
    if not claimed:
        return False
    endpoint = WebhookEndpoint.objects.select_related("account__owner").get(pk=endpoint_id)
    page = settings.SITE_URL.rstrip("/") + reverse("webhook_endpoint", args=[endpoint.pk])
    send_mail(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Webhook endpoint disabled",
        message=(
            f"We stopped sending webhooks to {endpoint.url}\n\n"
            f"Why: {endpoint.get_disabled_reason_display()}.\n"
            f"Last error: {_last_error(endpoint)}\n\n"
            f"Fix the endpoint, then enable it again (and redeliver what it missed) at\n{page}\n"
        ),
        from_email=None,
        recipient_list=[endpoint.account.owner.email],
    )
    return True


def _last_error(endpoint: WebhookEndpoint) -> str:
    attempt = WebhookAttempt.objects.filter(delivery__endpoint=endpoint, succeeded=False).first()
    return attempt.error if attempt else "none recorded"
