import pytest
from django.core.management import CommandError, call_command

from accounts import services as account_services
from accounts.models import Account
from billing.errors import InsufficientCredits
from billing.models import CreditLot, LedgerEntry, LotKind
from billing.services import ledger
from tests.billing.conftest import assert_ledger_ok, fund
from yunxin.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def test_new_account_gets_starter_credit_once(account, settings):
    assert account.balance == settings.STARTER_CREDIT_MICRO == 5_000_000
    account_services.account_create_for_user(user=account.owner)
    assert ledger.credits_grant_starter(account_id=account.pk) is None
    lot = CreditLot.objects.get(account=account)
    assert (lot.kind, lot.amount, lot.remaining) == ("starter", 5_000_000, 5_000_000)
    assert LedgerEntry.objects.filter(account=account).count() == 1
    assert_ledger_ok()


def test_grant_and_deduct_record_actor_and_reason(account, django_user_model):
    staff = django_user_model.objects.create_superuser(email="s@x.test", password="pw")
    ledger.credits_grant(account_id=account.pk, amount=10_000_000, reason="goodwill", actor=staff)
    entry = ledger.credits_deduct(
        account_id=account.pk, amount=3_000_000, reason="fix", actor=staff
    )
    assert (entry.kind, entry.amount, entry.balance_after) == ("deduct", -3_000_000, 12_000_000)
    assert entry.actor == staff and entry.memo == "fix"
    assert_ledger_ok()


def test_deduct_beyond_available_is_refused_and_changes_nothing(account):
    with pytest.raises(InsufficientCredits):
        ledger.credits_deduct(account_id=account.pk, amount=5_000_001, reason="x", actor=None)
    assert Account.objects.get(pk=account.pk).balance == 5_000_000
    assert LedgerEntry.objects.filter(account=account).count() == 1


def test_grant_needs_reason_and_positive_amount(account):
    with pytest.raises(ValidationFailed):
        ledger.credits_grant(account_id=account.pk, amount=1, reason=" ", actor=None)
    with pytest.raises(ValidationFailed):
        ledger.credits_grant(account_id=account.pk, amount=0, reason="x", actor=None)


def test_spending_draws_non_refundable_lots_first_then_oldest_purchase(account):
    fund(account, "3", kind=LotKind.PURCHASE)
    fund(account, "4", kind=LotKind.PURCHASE)
    fund(account, "2")  # a grant, made after the purchases, still goes first
    ledger.credits_deduct(account_id=account.pk, amount=8_000_000, reason="spend", actor=None)
    remaining = dict(CreditLot.objects.filter(account=account).values_list("amount", "remaining"))
    assert remaining == {5_000_000: 0, 2_000_000: 0, 3_000_000: 2_000_000, 4_000_000: 4_000_000}
    assert_ledger_ok()


def test_check_ledger_reports_a_tampered_balance(account):
    Account.objects.filter(pk=account.pk).update(balance=123)
    with pytest.raises(CommandError, match="violation"):
        call_command("check_ledger")
