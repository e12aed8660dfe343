import pytest
from django.core import mail

from accounts.models import Account
from billing import stripe_simulator as sim
from billing.models import CreditPack, Purchase, Refund
from billing.services import metering, purchases, refunds
from models_catalog.pricing import Usage
from tests.billing.conftest import assert_ledger_ok
from tests.factories import make_key
from yunxin.errors import ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(account, stripe_fake, time_machine) -> Purchase:
    """20 credits bought for $20.00 on 2026-11-01 12:00 UTC."""
    time_machine.move_to("2026-11-01 12:00:00+00:00", tick=False)
    pack = CreditPack.objects.create(name="P", credits=20_000_000, price=2_000)
    purchase, _ = purchases.purchase_start(
        account=account, pack_id=pack.pk, success_url="http://x/", cancel_url="http://x/"
    )
    sim.checkout_pay(purchase.checkout_session_id, "card")
    return purchases.checkout_fulfil(session_id=purchase.checkout_session_id)


def _request(account, purchase, credits, key="k1", **kw):
    return refunds.refund_request(
        account=account, purchase_id=purchase.pk, credits=credits, idempotency_key=key, **kw
    )


def _run(django_capture_on_commit_callbacks, fn):
    with django_capture_on_commit_callbacks(execute=True):
        return fn()


def test_refund_on_day_13_succeeds(account, paid, time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to("2026-11-14 11:00:00+00:00", tick=False)
    refund = _run(django_capture_on_commit_callbacks, lambda: _request(account, paid, 20_000_000))
    refund.refresh_from_db()
    assert (refund.status, refund.amount) == ("succeeded", 2_000)
    assert Account.objects.get(pk=account.pk).balance == 5_000_000
    assert assert_ledger_ok() is None


def test_refund_on_day_15_is_refused_with_a_clear_message(account, paid, time_machine):
    time_machine.move_to("2026-11-16 12:00:00+00:00", tick=False)
    with pytest.raises(
        ValidationFailed, match="refund window of this purchase closed on 2026-11-15 12:00"
    ):
        _request(account, paid, 1_000_000)
    assert not Refund.objects.exists()


def test_partial_refund_is_pro_rata_rounded_down_and_leaves_the_rest_usable(
    account, paid, django_capture_on_commit_callbacks, chat_model
):
    refund = _run(django_capture_on_commit_callbacks, lambda: _request(account, paid, 3_333_333))
    refund.refresh_from_db()
    assert refund.amount == 333  # $3.333333 -> $3.33
    account = Account.objects.get(pk=account.pk)
    assert (account.balance, account.held) == (25_000_000 - 3_333_333, 0)
    _, secret = make_key(account)
    r = metering.usage_authorize(
        request_id="x", api_key=secret, model="acme/chat-small", max_output_tokens=100
    )
    metering.usage_settle(reservation_id=r.reservation.pk, usage=Usage(output_tokens=100))
    assert_ledger_ok()


def test_requested_credits_are_held_at_once(account, paid, settings):
    settings.REFUND_AUTO_APPROVE = False
    _request(account, paid, 15_000_000)
    account = Account.objects.get(pk=account.pk)
    assert (account.balance, account.held, account.available) == (
        25_000_000,
        15_000_000,
        10_000_000,
    )
    assert_ledger_ok()


def test_double_clicked_request_makes_one_refund(
    account, paid, django_capture_on_commit_callbacks, stripe_fake
):
    first = _run(
        django_capture_on_commit_callbacks, lambda: _request(account, paid, 5_000_000, key="same")
    )
    second = _run(
        django_capture_on_commit_callbacks, lambda: _request(account, paid, 5_000_000, key="same")
    )
    assert first.pk == second.pk and Refund.objects.count() == 1
    assert (
        len(
            [
                r
                for r in stripe_fake.requests
                if r["path"] == "/v1/refunds" and r["method"] == "post"
            ]
        )
        == 1
    )
    assert Account.objects.get(pk=account.pk).balance == 20_000_000


def test_refund_sends_idempotency_key_of_our_refund_row(
    account, paid, stripe_fake, django_capture_on_commit_callbacks
):
    refund = _run(django_capture_on_commit_callbacks, lambda: _request(account, paid, 2_000_000))
    sent = stripe_fake.last("/v1/refunds")
    assert sent["headers"]["Idempotency-Key"] == f"yunxin-refund-{refund.pk}"
    assert (
        sent["params"]["amount"] == "200"
        and sent["params"]["payment_intent"] == paid.payment_intent_id
    )


def test_task_retried_after_stripe_accepted_makes_no_second_refund(
    account, paid, stripe_fake, settings
):
    settings.REFUND_AUTO_APPROVE = False
    refund = _request(account, paid, 2_000_000)
    refunds.refund_approve(refund_id=refund.pk, actor=None)  # enqueue held back: no on_commit
    refunds._claim(refund.pk)
    # The worker crashed after Stripe made the refund: Stripe has it, we do not know.
    from billing import stripe_gateway

    stripe_gateway.create_refund(
        payment_intent_id=paid.payment_intent_id, amount=200, refund_id=refund.pk, reason=""
    )
    assert refunds.refund_execute(refund_id=refund.pk) == "succeeded"  # the retry
    intent = sim.get(paid.payment_intent_id)
    assert len(intent["refunds"]) == 1
    assert Account.objects.get(pk=account.pk).balance == 23_000_000
    assert_ledger_ok()


def test_pending_refund_follows_stripe_to_success_or_failure(
    account, paid, stripe_fake, django_capture_on_commit_callbacks
):
    sim.set_sim_setting("refund_outcome", "pending")
    refund = _run(
        django_capture_on_commit_callbacks, lambda: _request(account, paid, 4_000_000, key="a")
    )
    refund.refresh_from_db()
    assert refund.status == "pending"
    assert Account.objects.get(pk=account.pk).held == 4_000_000
    failed = sim.resolve_refund(refund.stripe_refund_id, "failed")
    assert refunds.refund_apply_stripe(stripe_refund=failed) == "failed"
    refund.refresh_from_db()
    assert refund.status == "failed" and "lost_or_stolen_card" in refund.failure_reason
    account = Account.objects.get(pk=account.pk)
    assert (account.balance, account.held) == (25_000_000, 0)
    assert_ledger_ok()


def test_stripe_4xx_fails_the_refund_and_releases_credits(
    account, paid, stripe_fake, django_capture_on_commit_callbacks
):
    sim.dashboard_refund(paid.payment_intent_id, 2_000)  # the whole payment was refunded elsewhere
    Refund.objects.all().delete()
    refund = _run(django_capture_on_commit_callbacks, lambda: _request(account, paid, 1_000_000))
    refund.refresh_from_db()
    assert refund.status == "failed" and "Stripe refused" in refund.failure_reason
    assert Account.objects.get(pk=account.pk).held == 0


def test_refund_made_in_stripe_dashboard_is_reconciled_once(account, paid, stripe_fake):
    sim.dashboard_refund(paid.payment_intent_id, 500)  # $5 of $20: 5 credits
    assert refunds.charge_refunded(payment_intent_id=paid.payment_intent_id) == 1
    assert refunds.charge_refunded(payment_intent_id=paid.payment_intent_id) == 0
    assert Account.objects.get(pk=account.pk).balance == 20_000_000
    assert Refund.objects.get().source == "stripe"
    assert_ledger_ok()


def test_starter_and_disputed_are_not_refundable(account, paid):
    purchases.dispute_open(payment_intent_id=paid.payment_intent_id, reason="fraud")
    with pytest.raises(ValidationFailed, match="dispute"):
        _request(account, paid, 1)


def test_staff_reject_releases_the_hold_with_a_reason(account, paid, settings):
    settings.REFUND_AUTO_APPROVE = False
    refund = _request(account, paid, 5_000_000)
    refunds.refund_reject(refund_id=refund.pk, actor=None, reason="Used for abuse")
    refund.refresh_from_db()
    assert (refund.status, refund.failure_reason) == ("rejected", "Used for abuse")
    assert Account.objects.get(pk=account.pk).held == 0
    assert_ledger_ok()


def test_window_closing_expires_unreviewed_requests_and_marks_purchase(
    account, paid, settings, time_machine
):
    settings.REFUND_AUTO_APPROVE = False
    refund = _request(account, paid, 5_000_000)
    time_machine.move_to("2026-11-15 12:00:01+00:00", tick=False)
    assert refunds.refund_windows_close() == 1
    assert refunds.refund_windows_close() == 0
    refund.refresh_from_db()
    assert refund.status == "expired" and Account.objects.get(pk=account.pk).held == 0
    assert Purchase.objects.get().refund_window_closed_at is not None
    assert_ledger_ok()


def test_reminder_two_days_before_window_closes_is_sent_once(account, paid, time_machine):
    time_machine.move_to("2026-11-13 13:00:00+00:00", tick=False)
    assert refunds.refund_reminders_send() == 1
    assert refunds.refund_reminders_send() == 0
    assert "closes in 2 days" in mail.outbox[0].subject and "20.000000" in mail.outbox[0].body


def test_refund_page_previews_money_and_confirms(
    client, account, paid, django_capture_on_commit_callbacks
):
    client.force_login(account.owner)
    page = client.get(f"/settings/billing/purchases/{paid.pk}/refund/?credits=10").content.decode()
    assert "You get back <strong>$10.00</strong>" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/settings/billing/purchases/{paid.pk}/refund/", {"credits": "10", "token": "t1"}
        )
    assert response.status_code == 302
    assert Refund.objects.get().status == "succeeded"


def test_refund_page_of_another_account_is_404(client, paid):
    from tests.factories import make_account

    client.force_login(make_account("pro").owner)
    assert client.get(f"/settings/billing/purchases/{paid.pk}/refund/").status_code == 404


def test_staff_start_a_refund_from_the_admin(
    client, account, paid, django_user_model, django_capture_on_commit_callbacks
):
    staff = django_user_model.objects.create_superuser(email="ops@yunxin.test", password="pw")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/billing/purchase/",
            {
                "action": "start_refund",
                "_selected_action": [paid.pk],
                "apply": "1",
                "reason": "Goodwill",
            },
        )
    refund = Refund.objects.get()
    assert (refund.source, refund.credits, refund.status, refund.decided_by) == (
        "staff",
        20_000_000,
        "succeeded",
        staff,
    )
    assert_ledger_ok()


def test_admin_refund_actions_approve_and_reject(
    client, account, paid, settings, django_user_model
):
    settings.REFUND_AUTO_APPROVE = False
    staff = django_user_model.objects.create_superuser(email="ops@yunxin.test", password="pw")
    client.force_login(staff)
    refund = _request(account, paid, 2_000_000)
    client.post(
        "/admin/billing/refund/",
        {"action": "reject", "_selected_action": [refund.pk], "apply": "1", "reason": "No"},
    )
    refund.refresh_from_db()
    assert refund.status == "rejected" and refund.failure_reason == "No"
    assert list(refund.log.values_list("status", flat=True)) == ["requested", "rejected"]
