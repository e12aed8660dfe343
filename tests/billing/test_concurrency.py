"""Races, for real: threads and processes against PostgreSQL and Redis."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from analytics.models import UsageEvent
from billing.errors import InsufficientCredits
from billing.models import Reservation
from billing.services import metering
from models_catalog.pricing import Usage
from tests.billing.conftest import assert_ledger_ok, make_model
from tests.conftest import in_threads
from tests.factories import make_account, make_key

ROOT = Path(__file__).resolve().parents[2]


def test_fifty_threads_spend_exactly_what_the_account_had(services, transactional_db):
    make_model("acme/chat", input_per_mtok="1", output_per_mtok="3")
    account = make_account("enterprise")  # unlimited rate: only money decides
    _, secret = make_key(account)
    # Each request reserves and spends 0.3 credits; the 5-credit starter affords 16.

    def authorize_and_settle(i: int):
        r = metering.usage_authorize(
            request_id=f"t{i}", api_key=secret, model="acme/chat", max_output_tokens=100_000
        ).reservation
        return metering.usage_settle(reservation_id=r.pk, usage=Usage(output_tokens=100_000))

    results = in_threads(50, authorize_and_settle)
    ok = [r for r in results if isinstance(r, metering.Charged)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert (len(ok), len(refused)) == (16, 34), results
    account.refresh_from_db()
    assert (account.balance, account.held) == (200_000, 0)
    assert UsageEvent.objects.count() == 16 and Reservation.objects.count() == 16
    assert_ledger_ok()


def test_concurrent_duplicate_settles_and_records_charge_once(services, transactional_db):
    make_model("acme/chat", input_per_mtok="1", output_per_mtok="3")
    account = make_account("enterprise")
    _, secret = make_key(account)
    r = metering.usage_authorize(
        request_id="dup", api_key=secret, model="acme/chat", max_output_tokens=10
    ).reservation
    settles = in_threads(
        10, lambda i: metering.usage_settle(reservation_id=r.pk, usage=Usage(output_tokens=10))
    )
    records = in_threads(
        10,
        lambda i: metering.usage_record(
            request_id="rec", api_key=secret, model="acme/chat", usage=Usage(input_tokens=1000)
        ),
    )
    assert sorted(x.replayed for x in settles) == [False] + [True] * 9, settles
    assert sorted(x.replayed for x in records) == [False] + [True] * 9, records
    account.refresh_from_db()
    assert account.balance == 5_000_000 - 30 - 1000
    assert_ledger_ok()


_HAMMER = """
import os, sys, time
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "yunxin.settings"
django.setup()
from billing import ratelimit
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
print(sum(ratelimit.hit("shared-window", 10).allowed for _ in range(15)))
"""


def test_two_processes_share_one_rate_limit_window(services):
    import time

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env |= {
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
    }
    start = str(time.time() + 3)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, start],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    admitted = [int(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    # 30 attempts from two processes: separate windows would admit 20.
    assert sum(admitted) == 10, admitted
