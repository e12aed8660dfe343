"""`make bench`: metering throughput and latency beside plain baselines, in one run.

Prints one JSON object per line: {"name": ..., "value": ..., "unit": ...}. Runs against
DATABASE_URL (PostgreSQL for numbers that mean anything; SQLite works) in a throwaway
test database, and Redis when REDIS_URL is set. Sizes are flags; the defaults keep the
whole run under a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"name": name, "value": round(value, 3), "unit": unit, **extra}), flush=True)


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds else float("inf")


def timed(fn, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return time.perf_counter() - start


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def setup(args):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yunxin.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    import django
    from django.conf import settings

    # A throwaway database of the bench's own, never the test suite's.
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        settings.DATABASES["default"]["TEST"] = {"NAME": str(settings.VAR_DIR / "bench.sqlite3")}
    else:
        settings.DATABASES["default"]["TEST"] = {"NAME": f"yunxin_bench_{os.getpid()}"}
    django.setup()
    from django.test.utils import setup_databases

    old = setup_databases(verbosity=0, interactive=False)
    return settings, old


def fixtures():
    from datetime import timedelta

    from django.utils import timezone

    from accounts import services
    from accounts.models import User
    from billing.services.ledger import credits_grant
    from models_catalog.models import AIModel, Provider
    from models_catalog.services import rate_add

    provider = Provider.objects.create(slug="bench", name="Bench")
    model = AIModel.objects.create(
        provider=provider, slug="bench/chat", display_name="Bench chat", modality="chat"
    )
    rate_add(
        model=model,
        effective_from=timezone.now() - timedelta(days=1),
        allow_past=True,
        input_per_mtok="1",
        output_per_mtok="2",
    )
    user = User.objects.create_user(email=f"bench-{uuid.uuid4().hex[:6]}@example.com")
    services.account_set_tier(account_id=user.account.pk, tier="enterprise", actor=None)
    credits_grant(account_id=user.account.pk, amount=10**15, reason="bench", actor=None)
    _, secret = services.api_key_create(account=user.account, name="bench", created_by=None)
    return user.account, secret


def bench_services(args, secret: str) -> None:
    from billing.services import metering
    from models_catalog.pricing import Usage

    run = uuid.uuid4().hex[:8]
    usage = Usage(input_tokens=100, output_tokens=50)

    def record(i: int) -> None:
        metering.usage_record(
            request_id=f"rec-{run}-{i}", api_key=secret, model="bench/chat", usage=usage
        )

    def pair(i: int) -> None:
        r = metering.usage_authorize(
            request_id=f"pair-{run}-{i}", api_key=secret, model="bench/chat", max_output_tokens=100
        ).reservation
        metering.usage_settle(reservation_id=r.pk, usage=usage)

    baseline = plain_insert_rate(args.records)
    args.plain_insert_rate = baseline
    emit("baseline_plain_insert", baseline, "rows/s", note="single-row ORM insert, autocommit")
    rec = rate(args.records, timed(record, args.records))
    emit("service_record", rec, "events/s")
    emit("service_record_vs_plain_insert", rec / baseline, "ratio")
    pairs = rate(args.pairs, timed(pair, args.pairs))
    emit("service_authorize_settle", pairs, "pairs/s")
    emit("service_authorize_settle_vs_plain_insert", pairs / baseline, "ratio")


def plain_insert_rate(n: int) -> float:
    """The baseline: one ORM INSERT per commit into a comparable (ledger-shaped) table."""
    from django.db import connection, models
    from django.utils import timezone

    id_type = "serial" if connection.vendor == "postgresql" else "integer"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain")
        cursor.execute(
            f"CREATE TABLE bench_plain (id {id_type} PRIMARY KEY, account_id integer, "
            "amount bigint, reference varchar(200), created_at timestamp)"
        )

    class Plain(models.Model):  # noqa: DJ008
        account_id = models.IntegerField()
        amount = models.BigIntegerField()
        reference = models.CharField(max_length=200)
        created_at = models.DateTimeField()

        class Meta:
            app_label = "bench"
            db_table = "bench_plain"
            managed = False

    def insert(i: int) -> None:
        Plain.objects.create(
            account_id=1, amount=-i, reference=f"plain-{i}", created_at=timezone.now()
        )

    return rate(n, timed(insert, n))


def bench_ratelimit(args) -> None:
    from django.conf import settings

    from billing import ratelimit

    n = args.ratelimit_checks
    name = f"bench-{uuid.uuid4().hex[:6]}"
    hits = rate(n, timed(lambda i: ratelimit.hit(name, 10**9), n))
    emit("ratelimit_check", hits, "checks/s", backend="redis" if settings.REDIS_URL else "local")
    if settings.REDIS_URL:
        client, _ = ratelimit._redis()
        pings = rate(n, timed(lambda i: client.ping(), n))
        emit("baseline_redis_ping", pings, "pings/s")
        emit("ratelimit_check_vs_ping", hits / pings, "ratio")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings, args) -> tuple[subprocess.Popen, int]:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": url,
        "METERING_SERVICE_TOKEN": "bench-token",
        "API_RATE_LIMIT_PER_MINUTE": str(10**9),
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "yunxin.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def bench_http(settings, args, secret: str) -> None:
    import http.client

    proc, port = start_server(settings, args)
    run = uuid.uuid4().hex[:8]
    try:
        local = threading.local()

        def send(method, path, payload, headers):
            for attempt in range(2):  # a kept-alive connection the server closed: reconnect once
                if getattr(local, "conn", None) is None:
                    local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                try:
                    local.conn.request(method, path, body=payload, headers=headers)
                    resp = local.conn.getresponse()
                    return resp, resp.read()
                except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                    local.conn.close()
                    local.conn = None
                    if attempt:
                        raise
            raise AssertionError("unreachable")

        def call(method, path, body=None, token="bench-token"):
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            start = time.perf_counter()
            resp, data = send(method, path, json.dumps(body) if body else None, headers)
            elapsed = time.perf_counter() - start
            if resp.status >= 300:
                raise RuntimeError(f"{path} -> {resp.status} {data[:200]!r}")
            return json.loads(data), elapsed

        def measure(name, n, fn, unit):
            with ThreadPoolExecutor(args.concurrency) as pool:
                start = time.perf_counter()
                samples = list(pool.map(fn, range(n)))
                elapsed = time.perf_counter() - start
            emit(
                name,
                rate(n, elapsed),
                unit,
                p50_ms=round(pct(samples, 0.5), 2),
                p95_ms=round(pct(samples, 0.95), 2),
                concurrency=args.concurrency,
            )
            return rate(n, elapsed)

        def get_me(i):
            return call("GET", "/api/auth/me", token=secret)[1]

        def pair(i):
            body, t1 = call(
                "POST",
                "/api/metering/authorize",
                {
                    "request_id": f"h-{run}-{i}",
                    "api_key": secret,
                    "model": "bench/chat",
                    "max_output_tokens": 100,
                },
            )
            _, t2 = call(
                "POST",
                "/api/metering/settle",
                {
                    "reservation_id": body["reservation_id"],
                    "input_tokens": 100,
                    "output_tokens": 50,
                },
            )
            return t1 + t2

        def record(i):
            return call(
                "POST",
                "/api/metering/record",
                {
                    "request_id": f"hr-{run}-{i}",
                    "api_key": secret,
                    "model": "bench/chat",
                    "input_tokens": 100,
                },
            )[1]

        for i in range(20):  # warm up connections and caches
            get_me(i)
        base = measure("baseline_http_authenticated_get", args.http_requests, get_me, "req/s")
        pairs = measure("http_authorize_settle", args.http_requests, pair, "pairs/s")
        emit("http_authorize_settle_vs_get", pairs / base, "ratio")
        recs = measure("http_record", args.http_requests, record, "events/s")
        emit("http_record_vs_get", recs / base, "ratio")

        batch = args.batch_size
        events = [
            {
                "request_id": f"hb-{run}-{i}",
                "api_key": secret,
                "model": "bench/chat",
                "input_tokens": 100,
            }
            for i in range(batch)
        ]
        body, elapsed = call("POST", "/api/metering/record", {"events": events})
        assert all(r["status"] == 201 for r in body["results"])
        emit(
            "http_record_batch",
            batch / elapsed,
            "events/s",
            batch_size=batch,
            call_ms=round(elapsed * 1000, 1),
        )
        emit("http_record_batch_vs_plain_insert", batch / elapsed / args.plain_insert_rate, "ratio")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1000, help="service record calls")
    parser.add_argument("--pairs", type=int, default=500, help="service authorize+settle pairs")
    parser.add_argument("--http-requests", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--ratelimit-checks", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--usage-events", type=int, default=200_000, help="generated usage events (0: skip)"
    )
    parser.add_argument("--usage-accounts", type=int, default=6)
    parser.add_argument("--usage-runs", type=int, default=30, help="timed /api/usage calls")
    parser.add_argument("--usage-seed", type=int, default=7)
    args = parser.parse_args()

    settings, old = setup(args)
    from django.db import connection
    from django.test.utils import teardown_databases

    try:
        emit(
            "machine",
            os.cpu_count() or 0,
            "cpus",
            database=connection.vendor,
            redis=bool(settings.REDIS_URL),
            python=sys.version.split()[0],
        )
        _, secret = fixtures()
        bench_services(args, secret)
        bench_ratelimit(args)
        bench_http(settings, args, secret)
        if args.usage_events:
            from tests.bench.analytics import bench_analytics

            bench_analytics(args)
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
