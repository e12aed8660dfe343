"""Rollups under concurrent metering, for real on PostgreSQL."""

import threading

from django.db import connections

from analytics.invariants import rollup_violations
from analytics.models import UsageRollup
from tests.analytics.conftest import make_customer
from tests.billing.conftest import assert_ledger_ok


def _in_threads(n: int, work) -> list:
    results: list = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_concurrent_charges_of_two_accounts_all_reach_their_rollups(
    services, transactional_db, chat, mini, image
):
    customers = [make_customer(), make_customer()]
    results = _in_threads(24, lambda i: customers[i % 2].charge(input_tokens=100 + i))
    assert not [r for r in results if isinstance(r, Exception)], results
    rows = UsageRollup.objects.order_by("account_id").values_list("requests", flat=True)
    assert list(rows) == [12, 12]
    assert rollup_violations(deep=True) == []
    assert_ledger_ok()
