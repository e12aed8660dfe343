"""A refund approved while the broker was down is still sent: its enqueue failure is
logged (the customer's request succeeded), and the `requeue_refunds` beat task sends it."""

import pytest
from kombu.exceptions import OperationalError as BrokerError

from billing.models import Refund
from billing.services import refunds
from billing.tasks import execute_refund
from tests.billing.test_refunds import paid  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_a_refund_whose_enqueue_failed_is_sent_by_the_sweep(
    account,
    paid,  # noqa: F811 (the fixture imported above)
    monkeypatch,
    time_machine,
    django_capture_on_commit_callbacks,
):
    def broker_down(*args, **kwargs):
        raise BrokerError("Error 111 connecting to redis:6379. Connection refused.")

    with monkeypatch.context() as patched:
        patched.setattr(execute_refund, "delay", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            refund = refunds.refund_request(
                account=account, purchase_id=paid.pk, credits=1_000_000, idempotency_key="k"
            )
    assert Refund.objects.get(pk=refund.pk).status == "approved"
    assert refunds.refunds_requeue() == 0  # not stale yet: its task may still be queued
    time_machine.shift(11 * 60)
    with django_capture_on_commit_callbacks(execute=True):
        assert refunds.refunds_requeue() == 1
    assert Refund.objects.get(pk=refund.pk).status == "succeeded"
