"""Prometheus metrics at `/metrics` (staff session or `Authorization: Bearer $METRICS_TOKEN`).

Counted in the web processes: request latency by view, metering decisions by outcome and
the credits charged. gunicorn runs several processes, so with PROMETHEUS_MULTIPROC_DIR set
(`make serve` sets it) each process writes its samples there and a scrape of any process
sums them all; without it (runserver, tests) the process's own registry is scraped.

Read at scrape time, so they are right across every machine: Stripe events by type and
status and webhook deliveries by status (rows in PostgreSQL, written by the workers), and
the depth of each Celery queue (LLEN on the Redis broker). A dependency that is down is
reported as `yunxin_metrics_source_up{source=…} 0` rather than failing the scrape.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

log = logging.getLogger(__name__)
request_log = logging.getLogger("yunxin.request")

REQUEST_LATENCY = Histogram(
    "yunxin_http_request_duration_seconds",
    "Time to answer a request, by view (never the raw path), method and status class.",
    ["view", "method", "status"],
)
METERING_DECISIONS = Counter(
    "yunxin_metering_decisions",
    "Metering answers by operation (authorize, settle, record) and outcome (ok, "
    "replayed or the error code).",
    ["operation", "outcome"],
)
CREDITS_CHARGED = Counter(
    "yunxin_credits_charged",
    "Credits charged by settle and record (replays not counted).",
    ["operation"],
)

# Label values come from fixed sets only, so no request can add a time series.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
METERING_VIEWS = {
    "metering_authorize": "authorize",
    "metering_settle": "settle",
    "metering_record": "record",
}


# --- counting ----------------------------------------------------------------------------


def credits_charged(operation: str, results: Iterable) -> None:
    """Count what `Charged` results newly charged (a replay charged nothing)."""
    total = sum(r.event.cost for r in results if not getattr(r, "replayed", True))
    if total:
        CREDITS_CHARGED.labels(operation).inc(total / 1_000_000)


def metering_answered(operation: str, response: HttpResponse) -> None:
    body = getattr(response, "data", None)
    if isinstance(body, dict) and isinstance(body.get("results"), list):  # a batch record
        for item in body["results"]:
            if isinstance(item, dict):
                METERING_DECISIONS.labels(
                    operation, _decision(operation, item["status"], item)
                ).inc()
        return
    METERING_DECISIONS.labels(operation, _decision(operation, response.status_code, body)).inc()


def _decision(operation: str, status: int, body) -> str:
    if status >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        return error.get("code", str(status)) if isinstance(error, dict) else str(status)
    if operation == "record" and status == 200:
        return "replayed"  # record answers a new charge with 201, a repeat with 200
    return "ok"


class MetricsMiddleware:
    """Times every request, labelled by the view that answered it; counts metering
    decisions; logs one line per request when LOG_REQUESTS is on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - start
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.url_name or "-") if match else "<unmatched>"
        status = response.status_code
        method = request.method if request.method in METHODS else "other"
        REQUEST_LATENCY.labels(view, method, f"{status // 100}xx").observe(elapsed)
        if view in METERING_VIEWS:
            metering_answered(METERING_VIEWS[view], response)
        if settings.LOG_REQUESTS:
            request_log.info(
                "%s %s %s %.1fms",
                request.method,
                view,
                status,
                elapsed * 1000,
                extra={"view": view, "status": status, "duration_ms": round(elapsed * 1000, 1)},
            )
        return response


# --- read at scrape time -----------------------------------------------------------------


def queue_names() -> dict[str, str]:
    """Celery queues by role (default, billing, webhooks) → the broker's queue name."""
    return dict(settings.QUEUE_NAMES)


class QueueDepthCollector:
    """Messages waiting in each Celery queue, read from the Redis broker at scrape."""

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "yunxin_celery_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        up = 1
        if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            try:
                client = _broker_redis()
                for role, name in queue_names().items():
                    depth.add_metric([role], client.llen(name))
            except Exception as exc:  # a broker outage must not fail the scrape
                log.warning("queue depth unavailable: %s", exc)
                up = 0
        yield depth
        yield _source_up("broker", up)


class DatabaseCollector:
    """Totals kept as rows by the workers, so they are the same whatever process or
    machine did the work."""

    def collect(self) -> Iterator[Metric]:
        from accounts.webhooks.models import WebhookAttempt, WebhookDelivery
        from billing.models import StripeEvent

        stripe = GaugeMetricFamily(
            "yunxin_stripe_events",
            "Stored Stripe events by type and status (pending, processed, failed).",
            labels=["type", "status"],
        )
        deliveries = GaugeMetricFamily(
            "yunxin_webhook_deliveries",
            "Webhook deliveries by status (pending, sending, succeeded, failed).",
            labels=["status"],
        )
        attempts = CounterMetricFamily(
            "yunxin_webhook_attempts",
            "Webhook delivery attempts by outcome (succeeded, failed).",
            labels=["outcome"],
        )
        up = 1
        try:
            for row in StripeEvent.objects.values("type", "status").annotate(n=Count("pk")):
                stripe.add_metric([row["type"], row["status"]], row["n"])
            for row in WebhookDelivery.objects.values("status").annotate(n=Count("pk")):
                deliveries.add_metric([row["status"]], row["n"])
            for row in WebhookAttempt.objects.values("succeeded").annotate(n=Count("pk")):
                attempts.add_metric(["succeeded" if row["succeeded"] else "failed"], row["n"])
        except Exception as exc:  # a database outage must not fail the scrape
            log.warning("database metrics unavailable: %s", exc)
            up = 0
        yield from (stripe, deliveries, attempts)
        yield _source_up("database", up)


def _source_up(source: str, up: int) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "yunxin_metrics_source_up",
        "1 when the scrape could read this source, else 0.",
        labels=["source"],
    )
    gauge.add_metric([source], up)
    return gauge


_broker_client = None


def _broker_redis():
    global _broker_client
    if _broker_client is None:
        import redis

        _broker_client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        )
    return _broker_client


class _ThisProcess:
    """The process's own registry, when there is no multiprocess directory."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


def scrape() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(QueueDepthCollector())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


# --- the endpoint ------------------------------------------------------------------------


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and given:
        return hmac.compare_digest(given.strip().encode(), token.encode())
    user = getattr(request, "user", None)
    return bool(user and user.is_active and user.is_staff)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("Forbidden: staff or the metrics token only.\n", status=403)
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
