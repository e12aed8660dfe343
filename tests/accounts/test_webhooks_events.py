import json
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.services import account_set_tier, api_key_set_limits
from accounts.webhooks import services
from accounts.webhooks.events import EVENT_TYPES
from accounts.webhooks.models import WebhookEndpoint, WebhookEvent
from billing.errors import KeyLimitExceeded
from billing.services import metering, record_batch
from models_catalog.pricing import Usage
from tests.accounts.webhook_receiver import make_endpoint
from tests.billing.conftest import fund, make_model
from tests.factories import make_account, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(db):
    # 1 credit per 1M input tokens: 1,000,000 tokens cost 1 credit.
    return make_model("acme/webhook-chat", input_per_mtok="1", output_per_mtok="1")


def record(secret: str, request_id: str, credits: int = 1):
    return metering.usage_record(
        request_id=request_id,
        api_key=secret,
        model="acme/webhook-chat",
        usage=Usage(input_tokens=credits * 1_000_000),
    )


def sent(event_type: str) -> list[dict]:
    events = WebhookEvent.objects.filter(type=event_type).order_by("created_at")
    return [json.loads(e.payload)["data"] for e in events]


def test_tier_change_sends_subscription_updated_after_commit(
    receiver, django_capture_on_commit_callbacks
):
    account, _ = make_endpoint(receiver)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        account_set_tier(account_id=account.pk, tier="enterprise", actor=None, source="stripe")
        assert receiver.received == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    [payload] = receiver.verified
    assert payload["type"] == "subscription.updated"
    assert payload["data"] == {
        "account_id": account.pk,
        "previous_tier": "pro",
        "tier": "enterprise",
        "priority": 4,
        "rate_limit_per_minute": None,
        "webhooks_enabled": True,
        "source": "stripe",
    }


def test_downgrade_is_announced_then_pauses_and_upgrade_resumes(
    receiver, django_capture_on_commit_callbacks
):
    account, endpoint = make_endpoint(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        account_set_tier(account_id=account.pk, tier="basic", actor=None)
    assert receiver.verified[0]["data"]["webhooks_enabled"] is False
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).status == "paused"
    with django_capture_on_commit_callbacks(execute=True):
        account_set_tier(account_id=account.pk, tier="pro", actor=None)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).status == "active"
    assert [p["data"]["tier"] for p in receiver.verified] == ["basic", "pro"]


def test_nothing_is_emitted_when_the_cause_rolls_back(receiver):
    account, _ = make_endpoint(receiver)
    with pytest.raises(RuntimeError), transaction.atomic():
        account_set_tier(account_id=account.pk, tier="enterprise", actor=None)
        raise RuntimeError("the tier change fails")
    assert not WebhookEvent.objects.exists()


def test_low_balance_fires_once_when_a_charge_crosses_the_threshold(receiver, model):
    account, _ = make_endpoint(receiver)  # 5 credits of starter credit
    services.webhook_settings_update(account=account, low_balance_threshold=3_000_000)
    secret = make_key(account)[1]
    record(secret, "r1")  # 5 -> 4: above
    assert sent("credits.low_balance") == []
    record(secret, "r2")  # 4 -> 3: not below
    record(secret, "r3")  # 3 -> 2: crosses
    record(secret, "r4")  # 2 -> 1: already below, no repeat
    assert sent("credits.low_balance") == [
        {
            "account_id": account.pk,
            "threshold": "3.000000",
            "available": "2.000000",
            "balance": "2.000000",
        }
    ]


def test_low_balance_fires_again_after_a_top_up(receiver, model):
    account, _ = make_endpoint(receiver)
    services.webhook_settings_update(account=account, low_balance_threshold=4_500_000)
    secret = make_key(account)[1]
    record(secret, "r1")
    fund(account, "10")
    record(secret, "r2", credits=11)
    assert len(sent("credits.low_balance")) == 2


def test_depleted_fires_when_the_balance_reaches_zero(receiver, model):
    account, _ = make_endpoint(receiver)
    secret = make_key(account)[1]
    record(secret, "r1", credits=4)
    assert sent("credits.depleted") == []
    record(secret, "r2", credits=1)
    assert sent("credits.depleted") == [
        {"account_id": account.pk, "available": "0.000000", "balance": "0.000000"}
    ]


def test_settle_crossing_the_threshold_fires_low_balance(receiver, model):
    account, _ = make_endpoint(receiver)
    services.webhook_settings_update(account=account, low_balance_threshold=4_500_000)
    secret = make_key(account)[1]
    authorized = metering.usage_authorize(
        request_id="a1", api_key=secret, model=model.slug, max_output_tokens=2_000_000
    )
    assert sent("credits.low_balance") == []  # a hold is not a charge
    metering.usage_settle(
        reservation_id=authorized.reservation.pk, usage=Usage(input_tokens=1_000_000)
    )
    assert [d["available"] for d in sent("credits.low_balance")] == ["4.000000"]


def test_a_batch_crossing_the_threshold_fires_once(receiver, model):
    account, _ = make_endpoint(receiver)
    services.webhook_settings_update(account=account, low_balance_threshold=2_500_000)
    secret = make_key(account)[1]
    items = [
        record_batch.Item(f"b{i}", secret, model.slug, Usage(input_tokens=1_000_000))
        for i in range(4)
    ]
    record_batch.usage_record_batch(items=items)
    assert [d["balance"] for d in sent("credits.low_balance")] == ["1.000000"]


def test_refused_authorize_sends_key_limit_reached_once_per_period(receiver, model):
    account, _ = make_endpoint(receiver)
    key, secret = make_key(account, name="ci")
    api_key_set_limits(
        account=account,
        key_id=key.pk,
        credit_limit=1_000_000,
        limit_period="daily",
        expires_at=None,
    )
    for n in range(3):
        with pytest.raises(KeyLimitExceeded):
            metering.usage_authorize(
                request_id=f"big{n}", api_key=secret, model=model.slug, max_output_tokens=2_000_000
            )
    [data] = sent("api_key.limit_reached")
    assert data == {
        "account_id": account.pk,
        "api_key_id": key.pk,
        "api_key_name": "ci",
        "api_key_prefix": key.display_prefix,
        "credit_limit": "1.000000",
        "limit_period": "daily",
        "period_spent": "0.000000",
    }


def test_a_charge_that_crosses_nothing_touches_no_webhook_table(receiver, model):
    account, _ = make_endpoint(receiver)
    services.webhook_settings_update(account=account, low_balance_threshold=1_000_000)
    secret = make_key(account)[1]
    record(secret, "warm-up")
    with CaptureQueriesContext(connection) as captured:
        record(secret, "r1")
    assert captured.captured_queries
    assert not any("accounts_webhook" in q["sql"] for q in captured.captured_queries)


def test_emit_refuses_data_that_breaks_the_documented_schema():
    account = make_account("pro")
    with pytest.raises(ValueError, match="missing"):
        services.webhook_emit(
            account_id=account.pk, event_type="credits.depleted", data={"account_id": 1}
        )
    with pytest.raises(ValueError, match="Unknown"):
        services.webhook_emit(account_id=account.pk, event_type="credits.nope", data={})


def test_readme_documents_every_event_type_and_its_data_keys():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for event in EVENT_TYPES.values():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{event.name}` |"))
        assert all(f"`{key}`" in row for key in event.fields), event.name
