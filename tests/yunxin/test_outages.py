"""A dependency down answers a retriable 503 (JSON on the API), never a 500 or a hang.
The real outages (PostgreSQL restarted, Redis stopped) are in test_faults.py."""

import pytest
import redis
from django.db import OperationalError
from django.test import Client
from kombu.exceptions import OperationalError as BrokerError
from rest_framework.test import APIClient

from tests.billing.conftest import METERING_TOKEN, make_model
from tests.factories import make_account, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def meter(settings) -> APIClient:
    settings.METERING_SERVICE_TOKEN = METERING_TOKEN
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {METERING_TOKEN}")
    return client


@pytest.fixture
def authorize_body() -> dict:
    make_model("acme/chat", input_per_mtok="1", output_per_mtok="3")
    _, secret = make_key(make_account("free"))
    return {"request_id": "r1", "api_key": secret, "model": "acme/chat", "max_output_tokens": 9}


def _assert_retriable(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json()["error"]["code"] == "service_unavailable"


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("server closed the connection unexpectedly"),
        redis.ConnectionError("Connection refused"),
        redis.TimeoutError("Timeout reading from socket"),
        BrokerError("Error 111 connecting to 127.0.0.1:6379"),
    ],
)
def test_an_outage_in_an_api_view_answers_a_retriable_503(
    meter, authorize_body, monkeypatch, error
):
    def down(*args, **kwargs):
        raise error

    monkeypatch.setattr("billing.ratelimit.hit", down)
    _assert_retriable(meter.post("/api/metering/authorize", authorize_body, format="json"))


def test_an_outage_in_a_middleware_still_answers_a_retriable_503(monkeypatch):
    def down(request):
        raise OperationalError("the database system is starting up")

    monkeypatch.setattr("accounts.middleware._account_of_presented_key", down)
    client = Client(raise_request_exception=False)
    _assert_retriable(client.get("/api/nothing-here", HTTP_AUTHORIZATION="Bearer yx_x"))


def test_a_page_answers_a_short_503_page(monkeypatch):
    def down(**kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("models_catalog.selectors.model_list", down)
    client = Client(raise_request_exception=False)
    client.force_login(make_account("free").owner)
    response = client.get("/models/")
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert "Briefly unavailable" in response.content.decode()
