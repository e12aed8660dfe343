import pytest

from billing import stripe_simulator as sim
from billing.models import CreditLot, CreditPack, Purchase, StripeEvent
from billing.services import purchases
from tests.billing.conftest import assert_ledger_ok, post_event, signed_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def pack(db) -> CreditPack:
    return CreditPack.objects.create(
        name="Builder", credits=50_000_000, price=4_500, currency="usd"
    )


@pytest.fixture
def logged_in(client, account):
    client.force_login(account.owner)
    return client


def _buy(logged_in, pack) -> Purchase:
    response = logged_in.post("/settings/billing/buy/", {"pack": pack.pk})
    assert response.status_code == 302
    purchase = Purchase.objects.get()
    assert response["Location"].endswith(
        f"/billing/simulator/checkout/{purchase.checkout_session_id}/"
    )
    return purchase


def _deliver(client, django_capture_on_commit_callbacks, event_type, obj, **kw):
    payload, header = signed_event(event_type, obj, **kw)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, payload, header)
    assert response.status_code == 200
    return response


def test_buy_sends_amount_currency_metadata_and_idempotency_key(
    logged_in, pack, stripe_fake, account
):
    purchase = _buy(logged_in, pack)
    sent = stripe_fake.last("/v1/checkout/sessions")
    item = sent["params"]["line_items"][0]
    assert (item["price_data"]["unit_amount"], item["price_data"]["currency"]) == ("4500", "usd")
    assert sent["params"]["metadata"] == {
        "purchase_id": str(purchase.pk),
        "account_id": str(account.pk),
        "credits": "50.000000",
    }
    assert sent["params"]["client_reference_id"] == str(account.pk)
    assert sent["params"]["mode"] == "payment"
    assert sent["headers"]["Idempotency-Key"] == f"yunxin-purchase-{purchase.pk}-checkout"
    assert purchase.status == "pending" and not CreditLot.objects.filter(kind="purchase").exists()


def test_htmx_buy_answers_with_hx_redirect(logged_in, pack, stripe_fake):
    response = logged_in.post("/settings/billing/buy/", {"pack": pack.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "/billing/simulator/checkout/" in response["HX-Redirect"]


@pytest.mark.parametrize("credits", ["4", "10001", "abc", ""])
def test_custom_amount_out_of_bounds_is_refused_and_creates_nothing(
    logged_in, stripe_fake, credits
):
    response = logged_in.post("/settings/billing/buy/", {"credits": credits}, follow=True)
    assert (
        "Buy between 5 and 10,000 credits." in response.content.decode()
        or "whole number" in response.content.decode()
    )
    assert not Purchase.objects.exists()


def test_custom_amount_is_priced_per_credit(logged_in, stripe_fake):
    logged_in.post("/settings/billing/buy/", {"credits": "12"})
    purchase = Purchase.objects.get()
    assert (purchase.credits, purchase.amount) == (12_000_000, 1_200)


def test_same_event_five_times_adds_one_lot(
    client, logged_in, pack, stripe_fake, account, django_capture_on_commit_callbacks
):
    purchase = _buy(logged_in, pack)
    session = sim.checkout_pay(purchase.checkout_session_id, "card")
    for _ in range(5):
        _deliver(
            client,
            django_capture_on_commit_callbacks,
            "checkout.session.completed",
            session,
            event_id="evt_same",
        )
    assert CreditLot.objects.filter(kind="purchase").count() == 1
    account.refresh_from_db()
    assert account.balance == 55_000_000
    assert StripeEvent.objects.get().status == "processed"
    assert_ledger_ok()


def test_distinct_events_for_one_payment_add_one_lot(
    client, logged_in, pack, stripe_fake, django_capture_on_commit_callbacks
):
    purchase = _buy(logged_in, pack)
    session = sim.checkout_pay(purchase.checkout_session_id, "card")
    for event_type in [
        "checkout.session.completed",
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ]:
        _deliver(client, django_capture_on_commit_callbacks, event_type, session)
    assert CreditLot.objects.filter(kind="purchase").count() == 1
    assert_ledger_ok()


def test_async_success_before_completed_out_of_order(
    client, logged_in, pack, stripe_fake, django_capture_on_commit_callbacks
):
    purchase = _buy(logged_in, pack)
    session = sim.checkout_pay(purchase.checkout_session_id, "async_success")
    stale = {**session, "payment_status": "unpaid"}  # the completed event's older copy
    _deliver(
        client,
        django_capture_on_commit_callbacks,
        "checkout.session.async_payment_succeeded",
        session,
    )
    _deliver(client, django_capture_on_commit_callbacks, "checkout.session.completed", stale)
    purchase.refresh_from_db()
    assert purchase.status == "paid" and CreditLot.objects.filter(kind="purchase").count() == 1
    assert_ledger_ok()


def test_async_payment_that_fails_adds_nothing(
    client, logged_in, pack, stripe_fake, django_capture_on_commit_callbacks
):
    purchase = _buy(logged_in, pack)
    session = sim.checkout_pay(purchase.checkout_session_id, "async_fail")
    _deliver(client, django_capture_on_commit_callbacks, "checkout.session.completed", session)
    _deliver(
        client, django_capture_on_commit_callbacks, "checkout.session.async_payment_failed", session
    )
    purchase.refresh_from_db()
    assert purchase.status == "failed" and purchase.lot is None
    assert not CreditLot.objects.filter(kind="purchase").exists()
    assert_ledger_ok()


def test_success_page_says_credits_added_only_once_they_are(logged_in, pack, stripe_fake, account):
    purchase = _buy(logged_in, pack)
    url = f"/settings/billing/purchases/return/?session_id={purchase.checkout_session_id}"
    assert "Payment processing" in logged_in.get(url).content.decode()
    sim.checkout_pay(purchase.checkout_session_id, "card")
    page = logged_in.get(url).content.decode()
    assert "Payment received, credits added" in page and "55.00" in page
    assert CreditLot.objects.filter(kind="purchase").count() == 1


def test_success_page_of_another_account_is_404(client, logged_in, pack, stripe_fake):
    from tests.factories import make_account

    purchase = _buy(logged_in, pack)
    client.force_login(make_account("free").owner)
    url = f"/settings/billing/purchases/return/?session_id={purchase.checkout_session_id}"
    assert client.get(url).status_code == 404


def test_amount_mismatch_is_refused(logged_in, pack, stripe_fake):
    purchase = _buy(logged_in, pack)
    Purchase.objects.filter(pk=purchase.pk).update(amount=1)
    sim.checkout_pay(purchase.checkout_session_id, "card")
    with pytest.raises(Exception, match="expected 1 usd"):
        purchases.checkout_fulfil(session_id=purchase.checkout_session_id)
    assert not CreditLot.objects.filter(kind="purchase").exists()


def test_stripe_unreachable_marks_purchase_failed_with_clear_message(
    logged_in, pack, stripe_fake, account
):
    purchases.stripe_customer_ensure(account=account)
    stripe_fake.fail_next = 10
    response = logged_in.post("/settings/billing/buy/", {"pack": pack.pk}, follow=True)
    assert "Nothing was charged" in response.content.decode()
    assert Purchase.objects.get().status == "failed"


def test_stripe_unreachable_before_checkout_stores_nothing(logged_in, pack, stripe_fake):
    stripe_fake.fail_next = 10
    response = logged_in.post("/settings/billing/buy/", {"pack": pack.pk}, follow=True)
    assert "Nothing was charged" in response.content.decode()
    assert not Purchase.objects.exists()
