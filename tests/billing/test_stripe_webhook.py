import time

import pytest

from billing.models import StripeEvent
from billing.services import stripe_events
from tests.billing.conftest import post_event, signed_event

pytestmark = pytest.mark.django_db


def test_bad_signature_is_400_and_stores_nothing(client, stripe_fake):
    payload, header = signed_event("checkout.session.completed", {"id": "cs_1"})
    response = post_event(client, payload, header.replace("v1=", "v1=0"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not StripeEvent.objects.exists()


def test_missing_signature_is_400(client, stripe_fake):
    payload, _ = signed_event("checkout.session.completed", {"id": "cs_1"})
    response = client.post(
        "/billing/stripe/webhook/", data=payload, content_type="application/json"
    )
    assert response.status_code == 400 and not StripeEvent.objects.exists()


def test_stale_timestamp_is_400(client, stripe_fake):
    payload, header = signed_event(
        "checkout.session.completed", {"id": "cs_1"}, timestamp=int(time.time()) - 3600
    )
    assert post_event(client, payload, header).status_code == 400
    assert not StripeEvent.objects.exists()


def test_malformed_body_with_valid_signature_is_400(client, stripe_fake):
    import stripe

    from tests.billing.conftest import WEBHOOK_SECRET

    payload = '{"id": "evt_1", "type": '
    header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    response = post_event(client, payload, header)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_payload"
    assert not StripeEvent.objects.exists()


def test_unknown_type_is_stored_and_acknowledged(
    client, stripe_fake, django_capture_on_commit_callbacks
):
    payload, header = signed_event("product.created", {"id": "prod_1"}, event_id="evt_unknown")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, payload, header).status_code == 200
    event = StripeEvent.objects.get()
    assert (event.pk, event.type, event.status) == ("evt_unknown", "product.created", "processed")


def test_failed_processing_is_kept_visible_and_retried_until_it_works(
    client, account, stripe_fake, django_capture_on_commit_callbacks
):
    from billing import stripe_simulator as sim
    from billing.models import CreditLot, CreditPack, Purchase

    client.force_login(account.owner)
    pack = CreditPack.objects.create(name="P", credits=1_000_000, price=100)
    client.post("/settings/billing/buy/", {"pack": pack.pk})
    session = sim.checkout_pay(Purchase.objects.get().checkout_session_id, "card")
    stripe_fake.fail_next = 100  # Stripe cannot give us the session right now
    payload, header = signed_event("checkout.session.completed", session, event_id="evt_f")
    with pytest.raises(Exception), django_capture_on_commit_callbacks(execute=True):
        post_event(client, payload, header)
    event = StripeEvent.objects.get()
    assert (
        event.status == "failed" and event.attempts >= 1 and "PaymentProvider" in event.last_error
    )
    assert not CreditLot.objects.filter(kind="purchase").exists()
    # Stripe redelivers the same event: it is work again, not a duplicate to swallow.
    stripe_fake.fail_next = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, payload, header).status_code == 200
    assert StripeEvent.objects.get().status == "processed"
    assert CreditLot.objects.filter(kind="purchase").count() == 1


def test_requeue_sweep_picks_up_stored_unprocessed_events(
    stripe_fake, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    StripeEvent.objects.create(
        id="evt_lost",
        type="product.created",
        payload={"data": {"object": {}}},
        received_at=timezone.now() - timedelta(minutes=10),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert stripe_events.stripe_events_requeue() == 1
    assert StripeEvent.objects.get().status == "processed"
