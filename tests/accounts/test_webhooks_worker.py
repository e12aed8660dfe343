import pytest

from accounts.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.accounts.webhook_receiver import emit_depleted, make_endpoint
from tests.conftest import wait_for


@pytest.fixture
def worker_may_reach_loopback(monkeypatch):
    """The worker process inherits this environment: let it reach the local receiver."""
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", "1")


def test_a_delivery_runs_in_a_real_celery_worker(
    worker_may_reach_loopback, celery_worker_process, receiver
):
    account, _ = make_endpoint(receiver)
    event = emit_depleted(account)  # committed: its task goes to Redis
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).first()
    )
    assert delivery.event_id == event.id and delivery.attempt_count == 1
    assert [p["id"] for p in receiver.verified] == [event.id]
    # The worker process's own log shows that it, not this process, sent it.
    log = celery_worker_process.read_text()
    assert "Task accounts.tasks.webhook_deliver" in log and "succeeded" in log
