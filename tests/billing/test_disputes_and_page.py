import pytest

from accounts.models import Account
from billing import stripe_simulator as sim
from billing.models import CreditPack, Purchase
from billing.services import purchases
from tests.billing.conftest import assert_ledger_ok, post_event, signed_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_purchase(client, account, stripe_fake) -> Purchase:
    pack = CreditPack.objects.create(name="P", credits=20_000_000, price=2_000)
    client.force_login(account.owner)
    client.post("/settings/billing/buy/", {"pack": pack.pk})
    purchase = Purchase.objects.get()
    sim.checkout_pay(purchase.checkout_session_id, "card")
    return purchases.checkout_fulfil(session_id=purchase.checkout_session_id)


def test_dispute_freezes_unused_credits_and_flags_account(
    client, paid_purchase, account, django_capture_on_commit_callbacks
):
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "payment_intent": paid_purchase.payment_intent_id,
        "reason": "fraudulent",
    }
    payload, header = signed_event("charge.dispute.created", dispute)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, payload, header).status_code == 200
    account = Account.objects.get(pk=account.pk)
    assert account.flagged_for_review and "fraudulent" in account.flag_reason
    assert (account.balance, account.held, account.available) == (25_000_000, 20_000_000, 5_000_000)
    assert_ledger_ok()


def test_dispute_won_releases_and_lost_removes_frozen_credits(paid_purchase, account):
    purchases.dispute_open(payment_intent_id=paid_purchase.payment_intent_id, reason="x")
    purchases.dispute_close(purchase_id=paid_purchase.pk, won=False, actor=None)
    account = Account.objects.get(pk=account.pk)
    assert (account.balance, account.held) == (5_000_000, 0)
    assert_ledger_ok()


def test_billing_page_shows_tiers_balance_purchases_and_ledger(client, paid_purchase):
    page = client.get("/settings/billing/").content.decode()
    for text in [
        "Critical (4)",
        "Unlimited",
        "25.00",
        "Paid",
        "20.00",
        "Purchase #",
        "No spend in the last 7 days",
    ]:
        assert text in page


@pytest.mark.parametrize("n", [2, 25])
def test_billing_page_runs_bounded_queries(
    client, account, stripe_fake, n, django_assert_max_num_queries
):
    for i in range(n):
        Purchase.objects.create(
            account=account, credits=1, amount=1, currency="usd", checkout_session_id=f"cs_{i}"
        )
    client.force_login(account.owner)
    with django_assert_max_num_queries(14):
        assert client.get("/settings/billing/").status_code == 200
