import pytest

from billing.models import Reservation
from tests.billing.conftest import assert_ledger_ok
from tests.factories import make_account, make_key

pytestmark = pytest.mark.django_db


def _authorize(meter, secret, request_id="r-1", model="acme/chat-small", **size):
    body = {
        "request_id": request_id,
        "api_key": secret,
        "model": model,
        "max_input_tokens": 100,
        "max_output_tokens": 100,
        **size,
    }
    return meter.post("/api/metering/authorize", body, format="json")


def test_authorize_settle_over_http(meter, api_key, chat_model):
    response = _authorize(meter, api_key[1])
    assert response.status_code == 200
    body = response.json()
    assert body["reserved"] == "0.001200" and body["priority"] == 1
    assert body["available"] == "4.998800"
    assert response["X-Request-Priority"] == "1"
    assert response["X-RateLimit-Limit"] == "10" and response["X-RateLimit-Remaining"] == "9"
    settle = meter.post(
        "/api/metering/settle",
        {"reservation_id": body["reservation_id"], "input_tokens": 50, "output_tokens": 20},
        format="json",
    )
    assert settle.status_code == 200
    assert settle.json() == {"request_id": "r-1", "cost": "0.000260", "balance": "4.999740"}
    assert_ledger_ok()


def test_metering_needs_the_service_token(api_client, api_key, chat_model):
    response = api_client.post("/api/metering/authorize", {}, format="json")
    assert response.status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")  # a customer key is not it
    response = api_client.post("/api/metering/record", {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_service_token"


@pytest.mark.parametrize(
    ("tier", "model", "size", "status", "code"),
    [
        ("free", "acme/chat-pro", {}, 403, "model_tier_restricted"),
        ("free", "acme/chat-small", {"max_output_tokens": 10**6}, 402, "insufficient_credits"),
        ("free", "nobody/x", {}, 404, "not_found"),
        ("free", "acme/chat-small", {"max_output_tokens": -1}, 400, "validation_error"),
    ],
)
def test_authorize_denials_carry_code_and_headers(
    meter, chat_model, pro_model, tier, model, size, status, code
):
    _, secret = make_key(make_account(tier))
    response = _authorize(meter, secret, model=model, **size)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    if status in (402, 403):
        assert response["X-Request-Priority"] == "1"
        assert response["X-RateLimit-Remaining"] == "10"  # a denied request counts nothing


def test_unknown_or_revoked_key_is_401(meter, chat_model):
    response = _authorize(meter, "yx_000000000000_" + "a" * 43)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_free_tier_gets_429_after_ten_requests_a_minute(meter, api_key, chat_model):
    for i in range(10):
        assert _authorize(meter, api_key[1], request_id=f"r{i}").status_code == 200
    response = _authorize(meter, api_key[1], request_id="r10")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1 and response["X-RateLimit-Remaining"] == "0"
    assert Reservation.objects.count() == 10


def test_enterprise_is_not_rate_limited(meter, chat_model):
    _, secret = make_key(make_account("enterprise"))
    for i in range(30):
        response = _authorize(meter, secret, request_id=f"e{i}", max_output_tokens=1)
        assert response.status_code == 200
    assert response["X-Request-Priority"] == "4" and "X-RateLimit-Limit" not in response


def test_record_is_201_then_200_then_409(meter, api_key, chat_model):
    body = {
        "request_id": "b-1",
        "api_key": api_key[1],
        "model": "acme/chat-small",
        "input_tokens": 1000,
        "output_tokens": 1000,
    }
    first = meter.post("/api/metering/record", body, format="json")
    again = meter.post("/api/metering/record", body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert (
        first.json()
        == again.json()
        == {"request_id": "b-1", "cost": "0.010000", "balance": "4.990000"}
    )
    conflict = meter.post("/api/metering/record", {**body, "output_tokens": 1}, format="json")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"


def test_record_batch_answers_each_item_in_order(meter, api_key, chat_model):
    item = {"api_key": api_key[1], "model": "acme/chat-small", "input_tokens": 500}
    events = [
        {**item, "request_id": "x1"},
        {**item, "request_id": "x2", "model": "no/such"},
        {**item, "request_id": "x1"},
    ]
    response = meter.post("/api/metering/record", {"events": events}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 404, 200]
    assert results[1]["error"]["code"] == "not_found"
    assert results[0]["cost"] == "0.001000"


def test_settle_unknown_reservation_is_404(meter):
    response = meter.post(
        "/api/metering/settle",
        {"reservation_id": "00000000-0000-0000-0000-000000000000", "input_tokens": 1},
        format="json",
    )
    assert response.status_code == 404


def test_credits_and_ledger_api(key_client, meter, api_key, chat_model):
    body = {
        "request_id": "b-1",
        "api_key": api_key[1],
        "model": "acme/chat-small",
        "input_tokens": 500_000,
    }
    meter.post("/api/metering/record", body, format="json")
    credits = key_client.get("/api/credits").json()
    assert credits["balance"] == "4.000000" and credits["available"] == "4.000000"
    assert credits["lots"][0]["kind"] == "starter" and credits["lots"][0]["remaining"] == "4.000000"
    assert credits["lots"][0]["refundable_until"] is None
    ledger = key_client.get("/api/credits/ledger").json()
    assert [e["kind"] for e in ledger["results"]] == ["usage", "starter"]
    assert (
        key_client.get("/api/credits/ledger?kind=usage").json()["results"][0]["amount"]
        == "-1.000000"
    )
    bad = key_client.get("/api/credits/ledger?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"


def test_ledger_is_paginated_with_a_cursor(key_client, account, django_assert_max_num_queries):
    from billing.services import ledger

    for _ in range(7):
        ledger.credits_grant(account_id=account.pk, amount=1, reason="x", actor=None)
    with django_assert_max_num_queries(6):
        page = key_client.get("/api/credits/ledger?page_size=5").json()
    assert len(page["results"]) == 5 and page["next"]
    rest = key_client.get(page["next"]).json()
    assert len(rest["results"]) == 3 and rest["next"] is None


def test_usage_event_lookup_is_scoped_to_the_account(key_client, meter, api_key, chat_model):
    body = {
        "request_id": "look-1",
        "api_key": api_key[1],
        "model": "acme/chat-small",
        "input_tokens": 10,
        "output_tokens": 20,
        "reasoning_tokens": 5,
    }
    meter.post("/api/metering/record", body, format="json")
    event = key_client.get("/api/usage/events/look-1").json()
    assert event["cost"] == "0.000230" and event["reasoning_tokens"] == 5
    assert event["rate"]["output_per_mtok"] == "8.000000"
    _, other = make_key(make_account("pro"))
    key_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other}")
    assert key_client.get("/api/usage/events/look-1").status_code == 404


def test_rest_api_has_its_own_per_key_limit(key_client, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    statuses = [key_client.get("/api/auth/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
