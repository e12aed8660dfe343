"""Faults in the middle of load, against `deploy/serve` (what `make serve` runs: gunicorn,
a worker per queue and beat, ENVIRONMENT=production behind a proxy that says https) on
a private PostgreSQL cluster and a private Redis that these tests stop and start.

During the outage every answer is a 2xx/4xx or a retriable 503 in JSON within seconds,
never a 500 or a hang; afterwards every acknowledged charge is in the ledger exactly
once, replaying every request charges nothing twice, and the same processes serve again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from tests.conftest import _missing_services, require_or_skip
from tests.yunxin import load_client
from tests.yunxin.stack import (
    ROOT,
    PrivatePostgres,
    PrivateRedis,
    base_env,
    binaries_or_skip,
    free_port,
    get,
    run_clients,
    tail,
    wait_ready,
    worker_pids,
)

pytestmark = pytest.mark.services

TOKEN, MODEL = "fault-token", "acme/chat"
PROXY = {"X-Forwarded-Proto": "https"}  # what the TLS proxy in front says
SEED = """
from datetime import timedelta
from django.utils import timezone
from accounts import services
from accounts.models import User
from billing.services.ledger import credits_grant
from models_catalog.models import AIModel, Provider
from models_catalog.services import rate_add
p = Provider.objects.create(slug="acme", name="Acme")
m = AIModel.objects.create(provider=p, slug="acme/chat", display_name="Chat", modality="chat")
rate_add(model=m, effective_from=timezone.now() - timedelta(days=1), allow_past=True,
         input_per_mtok="1", output_per_mtok="3")
keys = {}
for tier in ("enterprise", "pro"):
    user = User.objects.create_user(email=f"{tier}@example.com", password="pw")
    services.account_set_tier(account_id=user.account.pk, tier=tier, actor=None)
    credits_grant(account_id=user.account.pk, amount=10**12, reason="fault tests", actor=None)
    made = [services.api_key_create(account=user.account, name=f"k{i}", created_by=None)
            for i in range(4)]
    keys[tier] = [[key.pk, secret] for key, secret in made]
print(json.dumps(keys))
"""


class Stack:
    """`deploy/serve` on a private PostgreSQL and Redis; `stop` undoes whatever `start`
    got to."""

    def __init__(self) -> None:
        self.pg: PrivatePostgres | None = None
        self.redis: PrivateRedis | None = None
        self.serve: subprocess.Popen | None = None

    def start(self, tmp: Path) -> None:
        self.pg = PrivatePostgres(binaries_or_skip())
        self.pg.init()
        self.redis = PrivateRedis().start()
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.env = base_env(
            ENVIRONMENT="production",
            SECRET_KEY="fault-tests-" + "k" * 30 + "-0123456789abcdefghij",
            DATABASE_URL=self.pg.url,
            REDIS_URL=self.redis.url,
            ALLOWED_HOSTS="127.0.0.1",
            METERING_SERVICE_TOKEN=TOKEN,
            STRIPE_SECRET_KEY="sk_test_fault_tests",
            STRIPE_WEBHOOK_SECRET="whsec_fault_tests",
            PORT=str(port),
            BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="4",
            CELERY_CONCURRENCY_DEFAULT="1",
            CELERY_CONCURRENCY_BILLING="1",
            CELERY_CONCURRENCY_WEBHOOKS="1",
            YUNXIN_VAR_DIR=str(tmp / "var"),  # static files, beat schedule, metrics
        )
        self.log = tmp / "serve.log"
        with open(self.log, "w") as out:
            self.serve = subprocess.Popen(
                ["deploy/serve"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_ready(self.base, [self.log], timeout=150)
        seeded = self.manage("shell", "-c", "import json\n" + SEED)
        self.keys = json.loads(seeded.stdout.strip().splitlines()[-1])
        # The gunicorn master is the serve script's child; its workers are the master's.
        self.gunicorn_master = int(
            subprocess.run(
                ["pgrep", "-P", str(self.serve.pid), "-f", "gunicorn"],
                capture_output=True,
                text=True,
            ).stdout.split()[0]
        )

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def sql(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.pg.url.replace("postgres://", "postgresql://")) as conn:
            return conn.execute(query, params).fetchall()

    def stop(self) -> None:
        try:
            if self.serve is not None:
                _stop_group(self.serve)
        finally:
            if self.redis is not None:
                self.redis.stop()
            if self.pg is not None:
                self.pg.destroy()


def _stop_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    missing = _missing_services()
    if missing:
        require_or_skip("needs " + ", ".join(missing))
    stack = Stack()
    try:
        stack.start(tmp_path_factory.mktemp("faults"))
        yield stack
    finally:
        stack.stop()


def _load_during(
    stack: Stack, prefix: str, api_key: str, fault, interval: float = 0.01
) -> list[dict]:
    """Three gateway processes send authorize+settle and record for 9 s; the fault
    starts 2.5 s in."""
    config = {
        "bases": [stack.base],
        "token": TOKEN,
        "api_key": api_key,
        "model": MODEL,
        "duration": 9,
        "timeout": 10,
        "interval": interval,
        "headers": PROXY,
        "start_at": time.time() + 1,
    }
    answers: list[dict] = []
    clients = threading.Thread(
        target=lambda: answers.extend(
            run_clients([config | {"prefix": f"{prefix}{i}"} for i in range(3)])
        )
    )
    clients.start()
    time.sleep(3.5)
    fault()
    clients.join(timeout=120)
    return answers


def _figures(name: str, answers: list[dict], lost: int, twice: int) -> dict:
    statuses = Counter(x["status"] for x in answers)
    figures = {
        "fault": name,
        "requests": len(answers),
        "accepted_2xx": statuses[200] + statuses[201],
        "refused_4xx": sum(n for s, n in statuses.items() if 400 <= s < 500),
        "unavailable_503": statuses[503],
        "lost": lost,
        "charged_twice_by_replay": twice,
        "slowest_s": round(max(x["seconds"] for x in answers), 2),
    }
    print(json.dumps(figures))
    return figures


def _check_and_replay(stack: Stack, name: str, answers: list[dict]) -> None:
    # Fail fast: every answer came within the client's timeout; no 500, no hang.
    odd = [x for x in answers if x["status"] not in (200, 201, 503)]
    assert not odd, odd[:5]
    slow = [x for x in answers if x["seconds"] > 8]
    assert not slow, slow[:5]
    unavailable = [x for x in answers if x["status"] == 503]
    assert unavailable, "the fault produced no 503: was it injected?"
    assert {(x["code"], x["retry_after"]) for x in unavailable} == {("service_unavailable", "2")}
    # Nothing acknowledged is lost: each acknowledged charge is in the ledger once.
    acknowledged = {
        x["rid"] for x in answers if (x["op"], x["status"]) in (("settle", 200), ("record", 201))
    }
    charges = _charges(stack, {x["rid"] for x in answers})
    lost = len([rid for rid in acknowledged if charges.get(rid) != (1, 1)])
    # Replaying every request after recovery charges each request once in all.
    _replay(stack, answers)
    _replay(stack, answers)
    after = _charges(stack, {x["rid"] for x in answers})
    twice = len([rid for rid, counts in after.items() if counts != (1, 1)])
    figures = _figures(name, answers, lost, twice)
    assert (figures["lost"], figures["charged_twice_by_replay"]) == (0, 0), figures
    assert set(after) == {x["rid"] for x in answers}
    stack.manage("check_ledger")


def _charges(stack: Stack, rids: set[str]) -> dict[str, tuple[int, int]]:
    """request id → (usage events, usage ledger entries)."""
    events = dict(
        stack.sql(
            "SELECT request_id, count(*) FROM analytics_usageevent"
            " WHERE request_id = ANY(%s) GROUP BY request_id",
            list(rids),
        )
    )
    entries = dict(
        stack.sql(
            "SELECT reference, count(*) FROM billing_ledgerentry"
            " WHERE kind = 'usage' AND reference = ANY(%s) GROUP BY reference",
            list(rids),
        )
    )
    return {rid: (events.get(rid, 0), entries.get(rid, 0)) for rid in events.keys() | entries}


def _replay(stack: Stack, answers: list[dict]) -> None:
    """Each gateway process retries every request it sent, with the same ids, in order."""
    cfg = {"token": TOKEN, "api_key": answers[0]["api_key"], "model": MODEL, "headers": PROXY}
    by_client: dict[str, list[tuple[str, str]]] = {}
    for rid, op in dict.fromkeys((x["rid"], x["op"]) for x in answers):
        by_client.setdefault(rid.rsplit("-", 1)[0], []).append((rid, op))

    def retry(sent: list[tuple[str, str]]) -> None:
        for rid, op in sent:
            if op == "authorize":
                replies = load_client.pair(cfg, rid, stack.base, stack.base)
            elif op == "record":
                replies = load_client.record(cfg, rid, stack.base)
            else:
                continue
            assert {r["status"] for r in replies} <= {200, 201}, replies

    with ThreadPoolExecutor(len(by_client)) as pool:
        list(pool.map(retry, by_client.values()))


def _serves_again_with_the_same_processes(stack: Stack, workers_before: set[int]) -> None:
    wait_ready(stack.base, [stack.log], timeout=60)
    assert worker_pids(stack.gunicorn_master) == workers_before
    # A task enqueued now runs: the Celery workers recovered without a restart too.
    key_id, secret = stack.keys["enterprise"].pop()
    status, _, _ = get(
        f"{stack.base}/api/auth/me", headers={"Authorization": f"Bearer {secret}"} | PROXY
    )
    assert status == 200
    deadline = time.monotonic() + 60
    while not stack.sql("SELECT last_used_at FROM accounts_apikey WHERE id = %s", key_id)[0][0]:
        assert time.monotonic() < deadline, tail(stack.log, 80)
        time.sleep(0.3)


def _with_api_key(answers: list[dict], secret: str) -> list[dict]:
    return [x | {"api_key": secret} for x in answers]


def test_postgresql_restarted_mid_load_loses_nothing_and_recovers(stack):
    _, secret = stack.keys["enterprise"].pop()
    workers = worker_pids(stack.gunicorn_master)
    before = stack.pg.postmaster_pid()

    def restart_postgresql() -> None:
        stack.pg.stop()
        time.sleep(2)  # down long enough that requests meet it
        stack.pg.start()

    answers = _load_during(stack, "pg", secret, restart_postgresql)
    assert stack.pg.postmaster_pid() != before
    _serves_again_with_the_same_processes(stack, workers)
    _check_and_replay(stack, "postgresql restart", _with_api_key(answers, secret))


def test_redis_stopped_and_started_mid_load_loses_nothing_and_recovers(stack):
    # A Pro account: its authorize needs the rate limiter in Redis (an Enterprise one
    # does not, and keeps being served). Paced to stay under its 100 requests a minute.
    _, secret = stack.keys["pro"].pop()
    workers = worker_pids(stack.gunicorn_master)

    def restart_redis() -> None:
        stack.redis.stop()
        time.sleep(2)
        stack.redis.start()

    answers = _load_during(stack, "redis", secret, restart_redis, interval=0.1)
    _serves_again_with_the_same_processes(stack, workers)
    _check_and_replay(stack, "redis stop/start", _with_api_key(answers, secret))
