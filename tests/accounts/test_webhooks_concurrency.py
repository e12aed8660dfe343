"""Races, for real: threads against PostgreSQL."""

from datetime import timedelta

from django.utils import timezone

from accounts.webhooks import dispatch, services
from accounts.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.accounts.webhook_receiver import emit_depleted, make_endpoint
from tests.conftest import in_threads


def test_four_beats_at_once_queue_each_due_delivery_once(services_db, receiver, monkeypatch):
    queued: list = []
    monkeypatch.setattr(services, "enqueue_attempt", lambda d, a: None)  # tasks lost
    monkeypatch.setattr(dispatch, "enqueue_attempt", lambda d, a: queued.append((d, a)))
    account, _ = make_endpoint(receiver)
    for _ in range(30):
        emit_depleted(account)
    later = timezone.now() + timedelta(minutes=11)  # every lease has run out
    counts = in_threads(4, lambda i: dispatch.webhook_deliveries_enqueue_due(now=later, batch=10))
    assert sum(counts) == 30 and len(set(queued)) == len(queued) == 30


def test_two_workers_running_the_same_attempt_send_it_once(services_db, receiver, monkeypatch):
    monkeypatch.setattr(services, "enqueue_attempt", lambda d, a: None)
    account, _ = make_endpoint(receiver)
    emit_depleted(account)
    delivery = WebhookDelivery.objects.get()
    outcomes = in_threads(
        2, lambda i: dispatch.webhook_delivery_attempt(delivery_id=delivery.pk, attempt=1)
    )
    assert sorted(outcomes) == ["skipped", "succeeded"]
    assert len(receiver.received) == 1 and WebhookAttempt.objects.count() == 1
