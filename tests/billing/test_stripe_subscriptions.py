import pytest

from accounts.models import TierChange
from billing import stripe_simulator as sim
from billing.models import Subscription, SubscriptionPlan
from tests.billing.conftest import post_event, signed_event
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans(db):
    SubscriptionPlan.objects.create(tier="basic", stripe_price_id="price_basic", amount=1900)
    SubscriptionPlan.objects.create(tier="pro", stripe_price_id="price_pro", amount=4900)


@pytest.fixture
def logged_in(client, account):
    client.force_login(account.owner)
    return client


def _deliver_all(client, captured, events):
    """Deliver the simulator's events, signed, through the real endpoint."""
    for event in events:
        payload, header = signed_event(event["type"], event["data"]["object"])
        with captured(execute=True):
            assert post_event(client, payload, header).status_code == 200


def _sim_events(since: int):
    from billing.models import SimulatorObject

    return [o.data for o in SimulatorObject.objects.filter(kind="event").order_by("created_at")][
        since:
    ]


def _me(client, secret):
    return client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {secret}").json()


def test_upgrade_renewal_failure_and_cancellation_move_the_tier(
    client, logged_in, account, plans, stripe_fake, django_capture_on_commit_callbacks
):
    _, secret = make_key(account)
    response = logged_in.post("/settings/billing/subscribe/pro/")
    sent = stripe_fake.last("/v1/checkout/sessions")
    assert sent["params"]["mode"] == "subscription"
    assert sent["params"]["line_items"] == [{"price": "price_pro", "quantity": "1"}]
    assert sent["params"]["subscription_data"]["metadata"]["account_id"] == str(account.pk)
    session_id = response["Location"].rstrip("/").split("/")[-1]

    sim.checkout_pay(session_id, "card")  # upgrade
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(0))
    assert _me(client, secret)["tier"] == "pro"
    sub = Subscription.objects.get()
    first_end = sub.current_period_end

    seen = len(_sim_events(0))
    sim.portal_action(sub.stripe_customer_id, "renew")  # renewal
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(seen))
    sub.refresh_from_db()
    assert sub.current_period_end > first_end and _me(client, secret)["tier"] == "pro"

    seen = len(_sim_events(0))
    sim.portal_action(sub.stripe_customer_id, "fail_renewal")  # past due: keeps the tier
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(seen))
    assert Subscription.objects.get().status == "past_due" and _me(client, secret)["tier"] == "pro"

    seen = len(_sim_events(0))
    sim.portal_action(sub.stripe_customer_id, "end_period")  # Stripe gives up: canceled
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(seen))
    assert _me(client, secret)["tier"] == "free"
    assert list(TierChange.objects.values_list("to_tier", "source")) == [
        ("free", "stripe"),
        ("pro", "stripe"),
    ]


def test_cancel_at_period_end_keeps_tier_until_the_end(
    client, logged_in, account, plans, stripe_fake, django_capture_on_commit_callbacks
):
    response = logged_in.post("/settings/billing/subscribe/basic/")
    sim.checkout_pay(response["Location"].rstrip("/").split("/")[-1], "card")
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(0))
    customer = Subscription.objects.get().stripe_customer_id
    seen = len(_sim_events(0))
    sim.portal_action(customer, "cancel")
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(seen))
    account.refresh_from_db()
    assert account.tier == "basic" and Subscription.objects.get().cancel_at_period_end
    seen = len(_sim_events(0))
    sim.portal_action(customer, "end_period")
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(seen))
    account.refresh_from_db()
    assert account.tier == "free"


def test_upgrade_in_portal_takes_effect_at_once(
    client, logged_in, account, plans, stripe_fake, django_capture_on_commit_callbacks
):
    response = logged_in.post("/settings/billing/subscribe/basic/")
    sim.checkout_pay(response["Location"].rstrip("/").split("/")[-1], "card")
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(0))
    seen = len(_sim_events(0))
    sim.portal_action(Subscription.objects.get().stripe_customer_id, "switch", "price_pro")
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(seen))
    account.refresh_from_db()
    assert account.tier == "pro"


def test_stale_event_cannot_undo_the_current_state(
    client, logged_in, account, plans, stripe_fake, django_capture_on_commit_callbacks
):
    response = logged_in.post("/settings/billing/subscribe/pro/")
    sim.checkout_pay(response["Location"].rstrip("/").split("/")[-1], "card")
    events = _sim_events(0)
    sub_obj = next(e for e in events if e["type"] == "customer.subscription.created")["data"][
        "object"
    ]
    _deliver_all(client, django_capture_on_commit_callbacks, events)
    sim.portal_action(sub_obj["customer"], "end_period")  # not cancel_at_period_end: no-op
    canceled_old = {**sub_obj, "status": "canceled"}  # a forged/late copy saying canceled
    payload, header = signed_event("customer.subscription.updated", canceled_old)
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, payload, header)
    account.refresh_from_db()
    assert account.tier == "pro"  # we asked Stripe, which says active


def test_enterprise_is_never_self_service(logged_in, account, plans, stripe_fake):
    from accounts.services import account_set_tier

    account_set_tier(account_id=account.pk, tier="enterprise", actor=None)
    response = logged_in.post("/settings/billing/subscribe/pro/", follow=True)
    assert "managed by our team" in response.content.decode()


def test_second_subscription_checkout_is_refused(
    client, logged_in, account, plans, stripe_fake, django_capture_on_commit_callbacks
):
    response = logged_in.post("/settings/billing/subscribe/basic/")
    sim.checkout_pay(response["Location"].rstrip("/").split("/")[-1], "card")
    _deliver_all(client, django_capture_on_commit_callbacks, _sim_events(0))
    response = logged_in.post("/settings/billing/subscribe/pro/", follow=True)
    assert "customer portal" in response.content.decode()
