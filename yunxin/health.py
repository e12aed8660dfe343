"""Probes for load balancers and orchestrators, cheap enough to poll every second.

`/healthz`: the process is alive and serving (no dependency is touched).
`/readyz`: the database, Redis and the Celery broker answer, and every migration is
applied; 503 naming what failed otherwise. Each check has a short timeout; the
migration check reads the migration graph, so its answer is kept for a few seconds.
Both answer over plain HTTP (SECURE_REDIRECT_EXEMPT) for probes behind the proxy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

log = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        if name == "migrations" and checks.get("database") != "ok":
            checks[name] = "unknown"  # cannot be read without the database
            continue
        try:
            checks[name] = check()
        except Exception as exc:
            log.warning("readiness check %s failed: %r", name, exc)
            checks[name] = f"error: {type(exc).__name__}"
    failed = [name for name, result in checks.items() if result not in ("ok", "not used")]
    body = {"status": "unavailable" if failed else "ok", "checks": checks}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)


def check_database() -> str:
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


_redis_client = None


def check_redis() -> str:
    global _redis_client
    if not settings.REDIS_URL:
        return "not used"
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        )
    _redis_client.ping()
    return "ok"


def check_broker() -> str:
    from yunxin.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT
        )
    return "ok"


class _MigrationState:
    """Whether every migration is applied, re-read at most every few seconds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked_at = float("-inf")
        self.pending = 0

    def __call__(self) -> str:
        with self.lock:
            if time.monotonic() - self.checked_at > settings.READYZ_MIGRATIONS_CACHE_SECONDS:
                executor = MigrationExecutor(connection)
                targets = executor.loader.graph.leaf_nodes()
                self.pending = len(executor.migration_plan(targets))
                self.checked_at = time.monotonic()
            return f"{self.pending} unapplied" if self.pending else "ok"


check_migrations = _MigrationState()

CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "migrations": check_migrations,
}
