import io
import json
import logging

import pytest
from celery.app.task import Context
from prometheus_client import REGISTRY
from pythonjsonlogger.json import JsonFormatter
from rest_framework.test import APIClient

from billing.models import StripeEvent
from tests.billing.conftest import METERING_TOKEN, make_model
from tests.factories import make_account, make_key
from yunxin import requestid


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def meter(settings) -> APIClient:
    settings.METERING_SERVICE_TOKEN = METERING_TOKEN
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {METERING_TOKEN}")
    return client


# --- request id ----------------------------------------------------------------------------


def test_every_answer_carries_a_request_id(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_the_proxys_request_id_is_kept_when_sane_and_replaced_otherwise(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="edge-1234abcd")["X-Request-ID"] == (
        "edge-1234abcd"
    )
    insane = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\r\nSet-Cookie: x")
    assert insane["X-Request-ID"] != "bad id\r\nSet-Cookie: x"
    assert len(insane["X-Request-ID"]) == 32


def test_log_lines_of_a_request_are_json_with_its_request_id(client, settings):
    settings.LOG_REQUESTS = True
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(requestid.RequestIdFilter())
    handler.setFormatter(
        JsonFormatter(
            **{k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"}
        )
    )
    logger = logging.getLogger("yunxin.request")
    logger.addHandler(handler)
    try:
        client.get("/healthz", HTTP_X_REQUEST_ID="req-abcdef12")
    finally:
        logger.removeHandler(handler)
    line = json.loads(out.getvalue().splitlines()[-1])
    assert line["request_id"] == "req-abcdef12"
    assert (line["level"], line["view"], line["status"]) == ("INFO", "healthz", 200)


def test_a_task_runs_with_the_request_id_of_the_request_that_enqueued_it():
    headers: dict = {}
    token = requestid.request_id_var.set("req-from-web-a")
    try:
        requestid.on_before_task_publish(headers=headers)
    finally:
        requestid.request_id_var.reset(token)
    task = type("Task", (), {"request": Context(is_eager=False, **headers)})()
    requestid.on_task_prerun(task=task)
    assert requestid.current() == "req-from-web-a"
    requestid.on_task_postrun(task=task)
    assert requestid.current() is None


def test_an_eager_task_keeps_the_id_of_the_request_it_runs_in():
    token = requestid.request_id_var.set("req-inline")
    try:
        task = type("Task", (), {"request": Context(is_eager=True)})()
        requestid.on_task_prerun(task=task)
        requestid.on_task_postrun(task=task)
        assert requestid.current() == "req-inline"
    finally:
        requestid.request_id_var.reset(token)


# --- /metrics ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_for_staff_or_the_metrics_token_only(client, settings):
    settings.METRICS_TOKEN = "scrape-token"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").status_code == 200
    customer = make_account("enterprise").owner
    client.force_login(customer)
    assert client.get("/metrics").status_code == 403
    customer.is_staff = True
    customer.save()
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_metering_decisions_latency_and_credits_are_counted(meter):
    make_model("acme/chat", input_per_mtok="1", output_per_mtok="3")
    _, secret = make_key(make_account("free"))
    ok = _sample("yunxin_metering_decisions_total", operation="record", outcome="ok")
    again = _sample("yunxin_metering_decisions_total", operation="record", outcome="replayed")
    unknown = _sample("yunxin_metering_decisions_total", operation="authorize", outcome="not_found")
    charged = _sample("yunxin_credits_charged_total", operation="record")
    timed = _sample(
        "yunxin_http_request_duration_seconds_count",
        view="metering_record",
        method="POST",
        status="2xx",
    )
    body = {"request_id": "r1", "api_key": secret, "model": "acme/chat", "input_tokens": 500_000}
    assert meter.post("/api/metering/record", body, format="json").status_code == 201
    assert meter.post("/api/metering/record", body, format="json").status_code == 200
    unknown_model = body | {"request_id": "a1", "model": "no/such", "max_output_tokens": 9}
    meter.post("/api/metering/authorize", unknown_model, format="json")
    assert _sample("yunxin_metering_decisions_total", operation="record", outcome="ok") == ok + 1
    assert (
        _sample("yunxin_metering_decisions_total", operation="record", outcome="replayed")
        == again + 1
    )
    assert (
        _sample("yunxin_metering_decisions_total", operation="authorize", outcome="not_found")
        == unknown + 1
    )
    assert _sample("yunxin_credits_charged_total", operation="record") == charged + 0.5
    assert (
        _sample(
            "yunxin_http_request_duration_seconds_count",
            view="metering_record",
            method="POST",
            status="2xx",
        )
        == timed + 2
    )


@pytest.mark.django_db
def test_stripe_events_and_webhook_deliveries_are_read_from_the_database(client, settings):
    settings.METRICS_TOKEN = "scrape-token"
    StripeEvent.objects.create(id="evt_1", type="charge.refunded", payload={})
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").content.decode()
    assert 'yunxin_stripe_events{status="pending",type="charge.refunded"} 1.0' in text
    assert 'yunxin_metrics_source_up{source="database"} 1.0' in text


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_queue_depth_is_read_from_the_broker(services, db, client, settings):
    from yunxin.celery import app

    settings.METRICS_TOKEN = "scrape-token"
    app.send_task("yunxin.no_such_task", queue=settings.QUEUE_NAMES["webhooks"])
    try:
        text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").content.decode()
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(settings.QUEUE_NAMES["webhooks"])
    assert 'yunxin_celery_queue_depth{queue="webhooks"} 1.0' in text
    assert 'yunxin_celery_queue_depth{queue="billing"} 0.0' in text
