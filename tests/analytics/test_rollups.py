from datetime import UTC, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics.generator import usage_generate
from analytics.invariants import rollup_violations
from analytics.models import UsageDailyRollup, UsageEvent, UsageRollup
from analytics.services import usage_rollups_add, usage_rollups_rebuild
from billing.models import Reservation
from billing.services import metering, record_batch
from models_catalog.pricing import Usage
from tests.analytics.conftest import hours_ago
from tests.billing.conftest import assert_ledger_ok
from tests.factories import make_priced_model

pytestmark = pytest.mark.django_db


def assert_rollups_equal_ledger_and_events() -> None:
    assert rollup_violations(deep=True) == []
    assert_ledger_ok()


def test_record_adds_the_event_to_its_hour(customer):
    event = customer.charge(input_tokens=1000, output_tokens=500, at=hours_ago(3))
    row = UsageRollup.objects.get()
    assert (row.account, row.api_key, row.model) == (customer.account, customer.key, event.model)
    assert row.hour == event.occurred_at.astimezone(UTC).replace(minute=0, second=0)
    assert (row.requests, row.input_tokens, row.output_tokens, row.cost) == (1, 1000, 500, 6000)
    assert_rollups_equal_ledger_and_events()


def test_events_of_one_hour_share_a_row_and_other_hours_get_their_own(customer):
    customer.charge(input_tokens=10, at=hours_ago(2))
    customer.charge(input_tokens=20, at=hours_ago(2))
    customer.charge(input_tokens=40, at=hours_ago(5))
    rows = sorted(UsageRollup.objects.values_list("requests", "input_tokens"))
    assert rows == [(1, 40), (2, 30)]
    assert_rollups_equal_ledger_and_events()


def test_settle_rolls_up_what_was_charged(customer):
    r = metering.usage_authorize(
        request_id="a1", api_key=customer.secret, model="acme/chat", max_output_tokens=1000
    ).reservation
    usage = Usage(input_tokens=900, output_tokens=100, reasoning_tokens=50, cached_input_tokens=100)
    metering.usage_settle(reservation_id=r.pk, usage=usage)
    metering.usage_settle(reservation_id=r.pk, usage=usage)  # a replay charges nothing
    row = UsageRollup.objects.get()
    assert (row.requests, row.reasoning_tokens, row.cached_input_tokens, row.cost) == (
        1,
        50,
        100,
        3150,
    )
    assert_rollups_equal_ledger_and_events()


def test_batch_record_rolls_up_every_charged_event(customer):
    items = [
        record_batch.Item(f"b{i}", customer.secret, "acme/chat", Usage(input_tokens=1000))
        for i in range(4)
    ]
    items.append(record_batch.Item("bad", customer.secret, "acme/nope", Usage(input_tokens=1)))
    results = record_batch.usage_record_batch(items=items)
    assert sum(isinstance(r, metering.Charged) for r in results) == 4
    assert UsageRollup.objects.get().requests == 4
    assert_rollups_equal_ledger_and_events()


def test_unit_priced_usage_keeps_exact_units(customer):
    customer.charge("acme/image", units="2.5")
    customer.charge("acme/image", units="0.000001")
    row = UsageRollup.objects.get()
    assert (row.units_micro, row.cost) == (2_500_001, 100_000)
    assert_rollups_equal_ledger_and_events()


def test_rollup_rolls_back_with_the_charge(customer, monkeypatch):
    r = metering.usage_authorize(
        request_id="a1", api_key=customer.secret, model="acme/chat", max_output_tokens=10
    ).reservation

    def fail(*args, **kwargs):
        raise RuntimeError("crash after the usage event was written")

    monkeypatch.setattr(Reservation, "save", fail)
    with pytest.raises(RuntimeError):
        metering.usage_settle(reservation_id=r.pk, usage=Usage(output_tokens=10))
    assert not UsageEvent.objects.exists() and not UsageRollup.objects.exists()
    assert_rollups_equal_ledger_and_events()


def test_usage_without_a_key_has_one_row_per_hour(customer):
    for n in (1, 2):
        customer.charge(input_tokens=n * 100, at=hours_ago(1))
    UsageRollup.objects.all().delete()
    UsageDailyRollup.objects.all().delete()
    UsageEvent.objects.update(api_key=None)
    for event in UsageEvent.objects.all():
        usage_rollups_add(events=[event])
    row = UsageRollup.objects.get()
    assert (row.api_key, row.requests, row.input_tokens) == (None, 2, 300)
    assert_rollups_equal_ledger_and_events()  # the daily row too


def test_rebuild_recomputes_an_account_from_its_events(customer):
    for n in range(3):
        customer.charge(input_tokens=100, at=hours_ago(n * 7))
    UsageRollup.objects.filter(account=customer.account).update(cost=1)
    assert rollup_violations()
    usage_rollups_rebuild(account_id=customer.account.pk)
    assert_rollups_equal_ledger_and_events()


def test_check_command_reports_drift(customer):
    customer.charge(input_tokens=100)
    call_command("check_usage_rollups", "--deep")
    UsageRollup.objects.update(requests=5)
    with pytest.raises(CommandError, match="rollup problem"):
        call_command("check_usage_rollups")


def test_generated_usage_equals_the_ledger(db):
    result = usage_generate(events=400, accounts=3, days=5)
    assert result.events == UsageEvent.objects.count() == 400
    assert len(set(result.by_account)) == 3
    assert_rollups_equal_ledger_and_events()


def test_generation_ignores_models_priced_only_lately(db):
    recent = make_priced_model(slug="new/model", since=timezone.now() - timedelta(days=1))
    result = usage_generate(events=300, accounts=2, days=10)
    assert result.events == UsageEvent.objects.count() == 300
    assert not UsageEvent.objects.filter(model=recent).exists()


def test_generate_usage_command_prints_its_accounts(db, capsys):
    call_command("generate_usage", "--events", "50", "--accounts", "2", "--days", "2")
    out = capsys.readouterr().out
    assert "50 usage events" in out and out.count("usage-") == 2
    assert UsageRollup.objects.exists()
