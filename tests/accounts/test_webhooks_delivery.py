from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.services import account_set_tier
from accounts.tasks import webhook_deliver
from accounts.webhooks import dispatch, services
from accounts.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.accounts.webhook_receiver import emit_depleted, make_endpoint
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Commit callbacks (the delivery tasks, eager in tests) run when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def beat_at(moment, run_on_commit) -> int:
    with time_machine.travel(moment, tick=False), run_on_commit():
        return dispatch.webhook_deliveries_enqueue_due()


def test_delivery_is_signed_so_standardwebhooks_verifies_it(receiver, run_on_commit):
    account, _ = make_endpoint(receiver)
    with run_on_commit():
        event = emit_depleted(account)
    [payload] = receiver.verified
    assert payload == {
        "id": event.id,
        "type": "credits.depleted",
        "created": payload["created"],
        "data": {"account_id": account.pk, "available": "0.000000", "balance": "0.000000"},
    }
    assert receiver.received[0].headers["webhook-id"] == event.id
    assert event.id.startswith("evt_") and payload["created"].endswith("Z")


def test_receiver_failing_twice_then_succeeding_gets_one_success_and_three_attempts(
    receiver, run_on_commit
):
    receiver.script = [500, 500]
    account, _ = make_endpoint(receiver)
    start = timezone.now()
    with time_machine.travel(start, tick=False), run_on_commit():
        emit_depleted(account)
    assert beat_at(start + timedelta(seconds=20), run_on_commit) == 0  # not due yet
    assert beat_at(start + timedelta(seconds=31), run_on_commit) == 1
    assert beat_at(start + timedelta(minutes=3), run_on_commit) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempt_count == 3
    attempts = list(delivery.attempts.order_by("number"))
    assert [(a.number, a.status_code, a.succeeded) for a in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert len(receiver.verified) == 1
    assert beat_at(start + timedelta(days=1), run_on_commit) == 0


def test_redelivery_keeps_the_webhook_id(receiver, run_on_commit):
    account, _ = make_endpoint(receiver)
    with run_on_commit():
        event = emit_depleted(account)
    delivery = WebhookDelivery.objects.get()
    with run_on_commit():
        services.webhook_delivery_redeliver(account=account, delivery_id=delivery.pk)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids == [event.id, event.id] and len(receiver.verified) == 2
    assert WebhookDelivery.objects.get().attempt_count == 2


def test_free_account_gets_no_deliveries(receiver, run_on_commit):
    account, _ = make_endpoint(receiver)
    account_set_tier(account_id=account.pk, tier="free", actor=None)  # pauses the endpoint
    with run_on_commit():
        assert emit_depleted(account) is None
        assert emit_depleted(make_account("free")) is None
    assert receiver.received == []
    assert not WebhookDelivery.objects.filter(event__type="credits.depleted").exists()


def test_a_delivered_delivery_is_never_sent_again(receiver, run_on_commit):
    account, _ = make_endpoint(receiver)
    with run_on_commit():
        emit_depleted(account)
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery.pk, 1) == "skipped"
    assert webhook_deliver(delivery.pk, 2) == "skipped"
    assert len(receiver.received) == 1


def test_a_duplicate_task_for_the_same_attempt_sends_once(receiver, run_on_commit):
    receiver.script = [500]
    account, _ = make_endpoint(receiver)
    with run_on_commit():
        emit_depleted(account)
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery.pk, 1) == "skipped"  # attempt 1 already made
    assert len(receiver.received) == 1 and WebhookAttempt.objects.count() == 1


def test_410_gone_disables_the_endpoint_without_retry(receiver, run_on_commit, mailoutbox):
    receiver.script = [410]
    account, endpoint = make_endpoint(receiver)
    with run_on_commit():
        emit_depleted(account)
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled" and endpoint.disabled_reason == "gone"
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED
    assert mailoutbox[0].to == [account.owner.email] and endpoint.url in mailoutbox[0].body


def test_other_4xx_fails_at_once(receiver, run_on_commit):
    receiver.script = [404]
    account, endpoint = make_endpoint(receiver)
    with run_on_commit():
        emit_depleted(account)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.FAILED, None)
    endpoint.refresh_from_db()
    assert endpoint.status == "active" and endpoint.failing_since is not None


def test_retries_stop_after_about_a_day(receiver, run_on_commit):
    receiver.script = [503] * 20
    account, _ = make_endpoint(receiver)
    start = timezone.now()
    with time_machine.travel(start, tick=False), run_on_commit():
        emit_depleted(account)
    for hours in (0.1, 0.2, 0.5, 2, 5, 11, 23, 30):
        beat_at(start + timedelta(hours=hours), run_on_commit)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 8
    last = delivery.attempts.order_by("-number").first().started_at
    assert timedelta(hours=20) < last - start < timedelta(hours=26)


def test_endpoint_failing_for_five_days_is_disabled_and_owner_emailed(
    receiver, run_on_commit, mailoutbox
):
    receiver.script = [500] * 3
    account, endpoint = make_endpoint(receiver)
    start = timezone.now()
    with time_machine.travel(start, tick=False), run_on_commit():
        emit_depleted(account)
    with time_machine.travel(start + timedelta(days=5, minutes=1), tick=False), run_on_commit():
        emit_depleted(account)
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "failing")
    assert len(mailoutbox) == 1 and "disabled" in mailoutbox[0].subject
    with run_on_commit():
        assert emit_depleted(account) is None  # nothing goes to a disabled endpoint


def test_a_success_resets_the_failing_clock(receiver, run_on_commit):
    receiver.script = [500]
    account, endpoint = make_endpoint(receiver)
    with run_on_commit():
        emit_depleted(account)
        emit_depleted(account)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.last_success_at is not None


def test_beat_requeues_a_delivery_whose_worker_died(receiver, run_on_commit):
    account, _ = make_endpoint(receiver)
    emit_depleted(account)  # committed, but its task is lost (commit callbacks not run)
    delivery = WebhookDelivery.objects.get()
    assert beat_at(timezone.now(), run_on_commit) == 0  # queued a moment ago: leased
    assert beat_at(timezone.now() + timedelta(minutes=11), run_on_commit) == 1
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED


def test_timeout_is_retried(receiver, run_on_commit, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1
    receiver.delay = 2
    account, _ = make_endpoint(receiver)
    with run_on_commit():
        emit_depleted(account)
    delivery = WebhookDelivery.objects.get()
    attempt = delivery.attempts.get()
    assert delivery.status == DeliveryStatus.PENDING and attempt.status_code is None
    assert "Timed out" in attempt.error and 900 < attempt.latency_ms < 1900


def test_the_response_body_read_is_capped(receiver, run_on_commit, settings):
    settings.WEBHOOKS_MAX_RESPONSE_BYTES = 100
    receiver.body = b"x" * 1_000_000
    account, _ = make_endpoint(receiver)
    with run_on_commit():
        emit_depleted(account)
    attempt = WebhookAttempt.objects.get()
    assert attempt.succeeded and attempt.response_excerpt == "x" * 100


def test_rotated_secret_signs_beside_the_new_one_for_24_hours(receiver, run_on_commit):
    account, endpoint = make_endpoint(receiver)
    services.webhook_endpoint_rotate_secret(account=account, endpoint_id=endpoint.pk)
    # receiver.secret is still the old one: a customer who has not switched yet.
    with run_on_commit():
        emit_depleted(account)
    assert len(receiver.verified) == 1
    with time_machine.travel(timezone.now() + timedelta(hours=25), tick=False), run_on_commit():
        emit_depleted(account)
    assert len(receiver.verified) == 1 and receiver.received[-1].status == 400
    assert len(receiver.received[-1].headers["webhook-signature"].split(" ")) == 1
