"""Incoming Stripe events: verified, stored once under their id, processed by a task.

The endpoint only verifies the signature against the raw body and stores the event; a
Celery task does the work. An event is marked processed only after its work committed:
a failure leaves it `failed` with the error, retried by the task and by a periodic sweep,
and visible to staff, who can also reprocess it. Handlers read the current object from
Stripe where order matters, so duplicate, late and out-of-order events are harmless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing import stripe_gateway as gateway
from billing.models import StripeEvent, StripeEventStatus
from billing.services import purchases, refunds, subscriptions

log = logging.getLogger(__name__)


def _checkout_completed(obj: dict) -> None:
    if obj.get("mode") == "subscription":
        if obj.get("subscription"):
            subscriptions.subscription_sync(subscription_id=_id(obj["subscription"]))
        return
    purchases.checkout_fulfil(session_id=obj["id"])


def _invoice_subscription(obj: dict) -> str | None:
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    return _id(obj.get("subscription") or parent.get("subscription"))


def _invoice(obj: dict) -> None:
    subscription_id = _invoice_subscription(obj)
    if subscription_id:
        subscriptions.subscription_sync(subscription_id=subscription_id)


def _refund(obj: dict) -> str:
    """Order matters for refunds (pending, then succeeded or failed): read it from Stripe."""
    return refunds.refund_apply_stripe(stripe_refund=gateway.retrieve_refund(obj["id"]))


def _id(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


HANDLERS: dict[str, Callable[[dict], object]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": lambda o: purchases.checkout_fulfil(
        session_id=o["id"]
    ),
    "checkout.session.async_payment_failed": lambda o: purchases.checkout_unpaid(
        session_id=o["id"], expired=False
    ),
    "checkout.session.expired": lambda o: purchases.checkout_unpaid(
        session_id=o["id"], expired=True
    ),
    "customer.subscription.created": lambda o: subscriptions.subscription_sync(
        subscription_id=o["id"]
    ),
    "customer.subscription.updated": lambda o: subscriptions.subscription_sync(
        subscription_id=o["id"]
    ),
    "customer.subscription.deleted": lambda o: subscriptions.subscription_sync(
        subscription_id=o["id"]
    ),
    "invoice.paid": _invoice,
    "invoice.payment_failed": _invoice,
    "refund.created": lambda o: _refund(o),
    "refund.updated": lambda o: _refund(o),
    "refund.failed": lambda o: _refund(o),
    "charge.refunded": lambda o: refunds.charge_refunded(
        payment_intent_id=_id(o.get("payment_intent"))
    ),
    "charge.dispute.created": lambda o: purchases.dispute_open(
        payment_intent_id=_id(o.get("payment_intent")), reason=o.get("reason") or "dispute"
    ),
}


def stripe_event_receive(*, payload: bytes, signature: str) -> StripeEvent:
    """Verify and store. Raises stripe.SignatureVerificationError or ValueError (→ 400),
    in which case nothing is stored."""
    event = gateway.construct_event(payload, signature)
    stored, _ = StripeEvent.objects.get_or_create(
        id=event.id, defaults={"type": event.type, "payload": json.loads(payload)}
    )
    if stored.status != StripeEventStatus.PROCESSED:
        # A redelivery of an event we stored but have not finished is work again, never
        # a duplicate to swallow.
        _enqueue(stored.pk)
    return stored


def _enqueue(event_id: str) -> None:
    from billing.tasks import process_stripe_event

    transaction.on_commit(lambda: process_stripe_event.delay(event_id))


def stripe_event_process(*, event_id: str) -> str:
    event = StripeEvent.objects.get(pk=event_id)
    if event.status == StripeEventStatus.PROCESSED:
        return "already processed"
    handler = HANDLERS.get(event.type)
    try:
        if handler is not None:
            handler(event.payload["data"]["object"])
    except Exception as exc:
        StripeEvent.objects.filter(pk=event_id).update(
            status=StripeEventStatus.FAILED, attempts=F("attempts") + 1, last_error=repr(exc)[:4000]
        )
        raise
    StripeEvent.objects.filter(pk=event_id).update(
        status=StripeEventStatus.PROCESSED,
        attempts=F("attempts") + 1,
        last_error="",
        processed_at=timezone.now(),
    )
    return "processed" if handler else "ignored (unknown type, stored)"


def stripe_events_requeue(*, older_than: timedelta = timedelta(minutes=5), limit: int = 200) -> int:
    """Re-enqueue stored events that are not processed (a lost enqueue, a failure whose
    retries ran out). Processing is idempotent, so a spare run is harmless."""
    stale = StripeEvent.objects.exclude(status=StripeEventStatus.PROCESSED).filter(
        received_at__lt=timezone.now() - older_than, attempts__lt=50
    )
    ids = list(stale.values_list("pk", flat=True)[:limit])
    for event_id in ids:
        _enqueue(event_id)
    return len(ids)
