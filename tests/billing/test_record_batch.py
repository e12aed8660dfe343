import pytest

from accounts.models import Account
from analytics.models import UsageEvent
from billing.models import LedgerEntry
from tests.billing.conftest import assert_ledger_ok
from tests.factories import make_account, make_key

pytestmark = pytest.mark.django_db


def _batch(meter, events):
    response = meter.post("/api/metering/record", {"events": events}, format="json")
    assert response.status_code == 200
    return response.json()["results"]


def _item(secret, rid, tokens=1000, **extra):
    return {
        "request_id": rid,
        "api_key": secret,
        "model": "acme/chat-small",
        "input_tokens": tokens,
        **extra,
    }


def test_batch_charges_each_event_with_its_own_ledger_entry(meter, api_key, chat_model, account):
    results = _batch(meter, [_item(api_key[1], f"b{i}") for i in range(5)])
    assert [r["status"] for r in results] == [201] * 5
    assert [r["balance"] for r in results] == [f"4.99{8 - 2 * i}000" for i in range(5)]
    assert LedgerEntry.objects.filter(kind="usage").count() == UsageEvent.objects.count() == 5
    assert Account.objects.get(pk=account.pk).balance == 4_990_000
    assert_ledger_ok()


def test_batch_stops_charging_when_credits_run_out(meter, api_key, chat_model):
    # 2 credits per event (1M input tokens at 2/1M); 5 credits cover two.
    results = _batch(meter, [_item(api_key[1], f"b{i}", tokens=1_000_000) for i in range(3)])
    assert [r["status"] for r in results] == [201, 201, 402]
    assert results[2]["error"]["code"] == "insufficient_credits"
    assert UsageEvent.objects.count() == 2
    assert_ledger_ok()


def test_repeated_ids_within_and_across_batches(meter, api_key, chat_model):
    first = _batch(
        meter, [_item(api_key[1], "x"), _item(api_key[1], "x"), _item(api_key[1], "x", tokens=5)]
    )
    assert [r["status"] for r in first] == [201, 200, 409]
    again = _batch(meter, [_item(api_key[1], "x"), _item(api_key[1], "y")])
    assert [r["status"] for r in again] == [200, 201]
    assert again[0]["cost"] == first[0]["cost"]
    assert UsageEvent.objects.count() == 2
    assert_ledger_ok()


def test_batch_answers_bad_items_without_losing_good_ones(meter, api_key, chat_model, pro_model):
    events = [
        _item(api_key[1], "ok"),
        {"request_id": "bad", "api_key": api_key[1]},
        _item(api_key[1], "tier", model="acme/chat-pro"),
        _item("yx_000000000000_" + "a" * 43, "key"),
        _item(api_key[1], "future", occurred_at="2999-01-01T00:00:00Z"),
    ]
    results = _batch(meter, events)
    assert [r["status"] for r in results] == [201, 400, 403, 401, 400]
    assert [r.get("error", {}).get("code") for r in results[1:]] == [
        "validation_error",
        "model_tier_restricted",
        "invalid_api_key",
        "validation_error",
    ]
    assert UsageEvent.objects.count() == 1


def test_batch_respects_key_limits_item_by_item(meter, account, chat_model):
    key, secret = make_key(account)
    key.credit_limit = 2500
    key.save()
    results = _batch(meter, [_item(secret, f"k{i}") for i in range(3)])  # 2000 each
    assert [r["status"] for r in results] == [201, 402, 402]
    assert {r["error"]["code"] for r in results[1:]} == {"key_limit_exceeded"}
    key.refresh_from_db()
    assert key.period_spent == 2000


def test_batch_spanning_two_accounts(meter, api_key, chat_model):
    _, other = make_key(make_account("basic"))
    results = _batch(meter, [_item(api_key[1], "a1"), _item(other, "b1"), _item(api_key[1], "a2")])
    assert [r["balance"] for r in results] == ["4.998000", "4.998000", "4.996000"]
    assert_ledger_ok()


def test_batch_size_is_bounded(meter):
    response = meter.post("/api/metering/record", {"events": []}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
