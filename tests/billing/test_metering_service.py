from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from analytics.models import UsageEvent
from billing.errors import IdempotencyConflict, InsufficientCredits, KeyLimitExceeded
from billing.models import LedgerEntry, Reservation
from billing.services import metering
from models_catalog.pricing import Usage
from models_catalog.services import ModelTierRestricted, rate_add
from tests.billing.conftest import assert_ledger_ok, fund
from tests.factories import make_account, make_key
from yunxin.errors import InvalidApiKey, NotFound

pytestmark = pytest.mark.django_db


def authorize(secret, model="acme/chat-small", request_id="req-1", **size):
    size = size or {"max_input_tokens": 1000, "max_output_tokens": 500}
    return metering.usage_authorize(request_id=request_id, api_key=secret, model=model, **size)


def test_authorize_reserves_worst_case_against_available(api_key, chat_model, account):
    result = authorize(api_key[1])
    # 1000 in at max(2, 0.5) + 500 out at max(8, 10) = 2000 + 5000 micro-credits.
    assert result.reservation.reserved == 7000
    assert result.available == 5_000_000 - 7000
    assert result.reservation.priority == 1
    assert Account.objects.get(pk=account.pk).held == 7000
    assert_ledger_ok()


def test_settle_charges_actual_usage_and_releases_the_rest(api_key, chat_model, account):
    r = authorize(api_key[1]).reservation
    usage = Usage(input_tokens=900, output_tokens=100, reasoning_tokens=50, cached_input_tokens=100)
    charged = metering.usage_settle(reservation_id=r.pk, usage=usage)
    # 900×2 + 100×8 + 50×10 + 100×0.5 = 1800 + 800 + 500 + 50
    assert charged.event.cost == 3150
    fresh = Account.objects.get(pk=account.pk)
    assert (fresh.balance, fresh.held) == (5_000_000 - 3150, 0)
    assert charged.event.balance_after == fresh.balance
    assert LedgerEntry.objects.get(reference="req-1").amount == -3150
    assert_ledger_ok()


def test_settle_replayed_ten_times_charges_once(api_key, chat_model, account):
    r = authorize(api_key[1]).reservation
    usage = Usage(input_tokens=10, output_tokens=10)
    results = [metering.usage_settle(reservation_id=r.pk, usage=usage) for _ in range(10)]
    assert [x.replayed for x in results] == [False] + [True] * 9
    assert {x.event.pk for x in results} == {results[0].event.pk}
    assert LedgerEntry.objects.filter(kind="usage").count() == 1
    assert_ledger_ok()


def test_settle_again_with_other_usage_is_a_conflict(api_key, chat_model):
    r = authorize(api_key[1]).reservation
    metering.usage_settle(reservation_id=r.pk, usage=Usage(input_tokens=10, output_tokens=10))
    with pytest.raises(IdempotencyConflict):
        metering.usage_settle(reservation_id=r.pk, usage=Usage(input_tokens=11, output_tokens=10))


def test_settle_beyond_reservation_is_charged_and_says_so(api_key, chat_model, account):
    r = authorize(api_key[1], max_input_tokens=10, max_output_tokens=10).reservation
    charged = metering.usage_settle(reservation_id=r.pk, usage=Usage(output_tokens=1000))
    assert charged.event.cost == 8000 > r.reserved
    assert "exceeded the reservation" in LedgerEntry.objects.get(reference="req-1").memo
    assert_ledger_ok()


def test_settle_never_charges_more_than_the_account_has(api_key, chat_model, account):
    r = authorize(api_key[1], max_input_tokens=10, max_output_tokens=10).reservation
    charged = metering.usage_settle(reservation_id=r.pk, usage=Usage(output_tokens=10**7))
    assert charged.event.cost == 5_000_000  # 80 credits of usage, 5 credits available
    assert Account.objects.get(pk=account.pk).balance == 0
    assert "could not be charged" in LedgerEntry.objects.get(reference="req-1").memo
    assert_ledger_ok()


def test_authorize_replay_returns_same_reservation_and_other_body_conflicts(api_key, chat_model):
    first = authorize(api_key[1])
    again = authorize(api_key[1])
    assert again.replayed and again.reservation.pk == first.reservation.pk
    assert Reservation.objects.count() == 1
    with pytest.raises(IdempotencyConflict):
        authorize(api_key[1], max_input_tokens=1, max_output_tokens=1)


def test_record_replayed_ten_times_charges_once(api_key, chat_model):
    usage = Usage(input_tokens=1000, output_tokens=1000)
    results = [
        metering.usage_record(
            request_id="batch-1", api_key=api_key[1], model="acme/chat-small", usage=usage
        )
        for _ in range(10)
    ]
    assert [x.replayed for x in results] == [False] + [True] * 9
    assert UsageEvent.objects.get().cost == 10_000
    assert LedgerEntry.objects.filter(kind="usage").count() == 1
    assert_ledger_ok()


def test_record_with_same_id_and_other_body_is_a_conflict(api_key, chat_model):
    kwargs = {"request_id": "batch-1", "api_key": api_key[1], "model": "acme/chat-small"}
    metering.usage_record(**kwargs, usage=Usage(input_tokens=1))
    with pytest.raises(IdempotencyConflict):
        metering.usage_record(**kwargs, usage=Usage(input_tokens=2))


def test_free_key_on_pro_model_is_tier_restricted_before_credits(api_key, pro_model):
    with pytest.raises(ModelTierRestricted) as exc:
        authorize(
            api_key[1], model="acme/chat-pro", max_input_tokens=10**9, max_output_tokens=10**9
        )
    assert exc.value.status_code == 403 and exc.value.code == "model_tier_restricted"


def test_insufficient_credits_names_the_shortfall(api_key, chat_model):
    with pytest.raises(InsufficientCredits) as exc:
        authorize(api_key[1], max_input_tokens=0, max_output_tokens=600_000)  # 6 credits
    assert exc.value.status_code == 402
    assert "short by 1.000000" in exc.value.message
    assert not Reservation.objects.exists()


def test_key_limit_is_its_own_error(account, chat_model):
    key, secret = make_key(account)
    key.credit_limit = 5000
    key.save()
    with pytest.raises(KeyLimitExceeded) as exc:
        authorize(secret)  # needs 7000
    assert exc.value.code == "key_limit_exceeded"


def test_key_limit_counts_held_and_spent_and_resets_daily(account, chat_model, time_machine):
    time_machine.move_to("2026-11-10 12:00:00+00:00", tick=False)
    key, secret = make_key(account)
    key.credit_limit, key.limit_period = 10_000, "daily"
    key.save()
    r = authorize(secret, request_id="a").reservation  # holds 7000
    with pytest.raises(KeyLimitExceeded):
        authorize(secret, request_id="b")
    metering.usage_settle(reservation_id=r.pk, usage=Usage(output_tokens=500))  # spends 4000
    authorize(secret, request_id="c", max_input_tokens=0, max_output_tokens=600)  # holds 6000
    with pytest.raises(KeyLimitExceeded):
        authorize(secret, request_id="d", max_input_tokens=0, max_output_tokens=1)
    time_machine.move_to("2026-11-11 00:00:01+00:00", tick=False)
    # A new day: yesterday's 4000 no longer counts, the 6000 still held does.
    authorize(secret, request_id="e", max_input_tokens=0, max_output_tokens=400)


def test_revoked_and_expired_keys_are_refused(account, chat_model):
    key, secret = make_key(account)
    key.expires_at = timezone.now() - timedelta(seconds=1)
    key.save()
    with pytest.raises(InvalidApiKey, match="expired"):
        authorize(secret)


def test_unknown_model_is_not_found(api_key, db):
    with pytest.raises(NotFound):
        authorize(api_key[1], model="nobody/nothing")


def test_rate_change_between_authorize_and_settle_charges_reservation_rate(
    api_key, chat_model, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    r = authorize(api_key[1]).reservation
    rate_add(
        model=chat_model,
        effective_from=timezone.now() + timedelta(seconds=30),
        input_per_mtok="200",
        output_per_mtok="800",
    )
    time_machine.shift(60)
    event = metering.usage_settle(reservation_id=r.pk, usage=Usage(input_tokens=100)).event
    assert event.cost == 200 and event.rate_id == r.rate_id
    later = authorize(api_key[1], request_id="req-2").reservation
    assert later.rate_id != r.rate_id
    assert UsageEvent.objects.get(pk=event.pk).cost == 200  # past events keep their rate


def test_expired_reservation_is_released_once_and_settle_still_charges(
    api_key, chat_model, account
):
    r = authorize(api_key[1]).reservation
    later = timezone.now() + timedelta(hours=1)
    assert metering.reservations_expire(now=later) == 1
    assert metering.reservations_expire(now=later) == 0
    assert Account.objects.get(pk=account.pk).held == 0
    assert_ledger_ok()
    event = metering.usage_settle(reservation_id=r.pk, usage=Usage(input_tokens=10)).event
    assert event.cost == 20
    assert_ledger_ok()


def test_unit_priced_model_reserves_and_charges_per_unit(api_key, image_model):
    r = authorize(api_key[1], model="acme/image", units=Decimal("3")).reservation
    assert r.reserved == 120_000
    event = metering.usage_settle(reservation_id=r.pk, usage=Usage(units=Decimal("2"))).event
    assert event.cost == 80_000
    assert_ledger_ok()


def test_tokens_for_unit_model_are_refused(api_key, image_model):
    with pytest.raises(Exception, match="priced per unit"):
        authorize(api_key[1], model="acme/image", max_output_tokens=10)


def test_other_accounts_money_is_untouched(api_key, chat_model):
    other = make_account("pro")
    fund(other, "10")
    r = authorize(api_key[1]).reservation
    metering.usage_settle(reservation_id=r.pk, usage=Usage(input_tokens=100))
    assert Account.objects.get(pk=other.pk).balance == 15_000_000
