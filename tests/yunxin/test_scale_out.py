"""Scale-out, for real: two gunicorn processes and two Celery workers sharing PostgreSQL
and Redis, driven by several client processes at once, behave as one portal."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import ApiKey
from analytics.models import UsageEvent
from billing.models import EntryKind, LedgerEntry
from tests.billing.conftest import fund, make_model
from tests.conftest import _database_url, wait_for
from tests.factories import make_account, make_key
from tests.yunxin.stack import (
    Processes,
    base_env,
    free_port,
    get,
    run_clients,
    text,
    wait_for_log,
    wait_ready,
)

pytestmark = pytest.mark.services

TOKEN, METRICS_TOKEN, MODEL = "scale-out-token", "scale-out-metrics", "acme/chat"


@pytest.fixture
def portal(services, transactional_db, settings, tmp_path):
    """Web processes A and B (one gunicorn worker, four threads each) and workers w1 and
    w2, all on this test's database and this run's Redis namespace and queues."""
    env = base_env(
        DATABASE_URL=_database_url(),
        REDIS_URL=settings.REDIS_URL,
        CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
        CELERY_QUEUE_PREFIX=settings.CELERY_QUEUE_PREFIX,
        METERING_SERVICE_TOKEN=TOKEN,
        METRICS_TOKEN=METRICS_TOKEN,
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    web_env = env | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")}
    (tmp_path / "prometheus").mkdir()
    with Processes(tmp_path) as procs:
        bases = [procs.gunicorn(name, web_env, free_port()) for name in ("web-a", "web-b")]
        workers = {name: procs.worker(name, env) for name in ("w1", "w2")}
        logs = [tmp_path / "web-a.log", tmp_path / "web-b.log", *workers.values()]
        for base in bases:
            # The test database may be built without migration records (--nomigrations).
            wait_ready(base, logs, ignore=("migrations",))
        for log in workers.values():
            wait_for_log(log, "ready.")
        yield bases, workers


def test_two_web_and_two_worker_processes_act_as_one_portal(portal):
    (a, b), _ = portal
    make_model(MODEL, input_per_mtok="1", output_per_mtok="3")
    _, free_key = make_key(make_account("free"))
    enterprise = make_account("enterprise")
    fund(enterprise, "1000")
    _, enterprise_key = make_key(enterprise)

    start = time.time() + 1.5
    common = {"bases": [a, b], "token": TOKEN, "model": MODEL, "start_at": start}
    answers = run_clients(
        [
            common | {"api_key": free_key, "prefix": f"free{i}", "count": 5, "ops": "pairs"}
            for i in range(4)
        ]
        + [common | {"api_key": enterprise_key, "prefix": f"ent{i}", "count": 16} for i in range(4)]
    )

    assert {x["status"] for x in answers} <= {200, 201, 429}, _odd(answers)
    # The Free tier's 10 requests a minute hold across both web processes.
    free = [x for x in answers if x["rid"].startswith("free") and x["op"] == "authorize"]
    admitted = [x for x in free if x["status"] == 200]
    assert (len(free), len(admitted)) == (20, 10)
    assert {x["base"] for x in admitted} == {a, b}
    assert {x["code"] for x in free if x["status"] != 200} == {"rate_limited"}
    # Every accepted charge is in the usage events and the ledger exactly once.
    charged = Counter(
        x["rid"] for x in answers if (x["op"], x["status"]) in (("settle", 200), ("record", 201))
    )
    assert len(charged) == 10 + 4 * 16 and set(charged.values()) == {1}
    assert Counter(UsageEvent.objects.values_list("request_id", flat=True)) == charged
    usage = LedgerEntry.objects.filter(kind=EntryKind.USAGE)
    assert Counter(usage.values_list("reference", flat=True)) == charged
    call_command("check_ledger")
    # /metrics on A counts what both web processes decided (multiprocess mode).
    scraped = _samples(text(f"{a}/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"}))
    decisions = "yunxin_metering_decisions_total"
    assert scraped[(decisions, "authorize", "rate_limited")] == 10
    assert scraped[(decisions, "record", "ok")] == 4 * 8


def test_tasks_enqueued_by_either_web_process_run_on_both_workers(portal):
    (a, b), workers = portal
    account = make_account("pro")
    keys = [make_key(account, name=f"key {i}") for i in range(16)]

    def use(i: int) -> str:  # a key's first use enqueues `api_key_mark_used`
        status, _, headers = get(
            f"{(a, b)[i % 2]}/api/auth/me", headers={"Authorization": f"Bearer {keys[i][1]}"}
        )
        assert status == 200
        return headers["X-Request-ID"]

    with ThreadPoolExecutor(4) as pool:
        request_ids = list(pool.map(use, range(len(keys))))
    key_ids = [key.pk for key, _ in keys]
    wait_for(lambda: not ApiKey.objects.filter(pk__in=key_ids, last_used_at=None).exists())
    # Each worker's JSON log names the request whose task it ran.
    ran_on = Counter()
    for name, log in workers.items():
        for line in log.read_text().splitlines():
            record = _json(line)
            if record.get("request_id") in request_ids and "succeeded" in record["message"]:
                ran_on[(record["request_id"], name)] += 1
    assert sorted(rid for rid, _ in ran_on) == sorted(request_ids)  # each ran exactly once
    assert set(ran_on.values()) == {1}
    assert {name for _, name in ran_on} == {"w1", "w2"}


def _json(line: str) -> dict:
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _samples(exposition: str) -> Counter:
    found: Counter = Counter()
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            found[(s.name, s.labels.get("operation"), s.labels.get("outcome"))] += s.value
    return found


def _odd(answers: list[dict]) -> list[dict]:
    return [x for x in answers if x["status"] not in (200, 201, 429)][:5]
