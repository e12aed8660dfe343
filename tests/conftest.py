"""Shared fixtures. Tests that need real PostgreSQL and Redis use the `services` fixture:
it skips on a developer's plain machine, and fails instead when YUNXIN_REQUIRE_SERVICES=1
(CI), so a missing service can never turn into a silently green run."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import make_account, make_key

REQUIRE_SERVICES = os.environ.get("YUNXIN_REQUIRE_SERVICES") == "1"


def _missing_services() -> list[str]:
    missing = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing.append("PostgreSQL (DATABASE_URL)")
    if not settings.REDIS_URL:
        missing.append("Redis (REDIS_URL)")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            missing.append(f"Redis unreachable: {exc}")
    return missing


def require_or_skip(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"required but missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def services() -> None:
    missing = _missing_services()
    if missing:
        require_or_skip("needs " + ", ".join(missing))


@pytest.fixture(autouse=True)
def _fresh_local_cache():
    # The local-memory cache lives in the process: clear it between tests. A Redis cache
    # is namespaced per run by settings_test and never flushed (it may be shared); only
    # this run's rate-limit windows are dropped, since account ids repeat across tests.
    from billing import ratelimit

    if not settings.REDIS_URL:
        cache.clear()
    else:
        client, _ = ratelimit._redis()
        for key in client.scan_iter(match=ratelimit._full_key("*"), count=500):
            client.delete(key)
    ratelimit._local.windows.clear()
    yield


@pytest.fixture
def account(db):
    return make_account("free")


@pytest.fixture
def api_key(account):
    return make_key(account)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def key_client(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    return client


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    """Extra environment for the worker process; override in a test module."""
    return {}


@pytest.fixture
def celery_worker_process(services, transactional_db, celery_worker_env):
    """A real `celery worker` process on Redis, against this test's database, consuming
    this run's own queues (all three: no -Q). Tasks enqueued by the test process run
    there, not inline."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    from yunxin.celery import app

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env |= {
        "DJANGO_SETTINGS_MODULE": "yunxin.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE_PREFIX": settings.CELERY_QUEUE_PREFIX,
        "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        **celery_worker_env,
    }

    log = Path(settings.VAR_DIR) / f"worker-{settings.TEST_RUN_ID}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "yunxin",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("celery worker did not start:\n" + log.read_text())
        time.sleep(0.2)
    app.conf.task_always_eager = False
    try:
        yield log
    finally:
        app.conf.task_always_eager = True
        proc.terminate()
        proc.wait(timeout=30)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll until predicate() is truthy; returns its value or fails the test."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


def in_threads(n: int, work) -> list:
    """Run work(i) in n threads released together; results (or exceptions) in order.
    Each thread closes its database connection when done."""
    import threading

    from django.db import connections

    results: list = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # the test inspects every outcome
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
