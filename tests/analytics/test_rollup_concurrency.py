"""Rollups under concurrent metering, for real on PostgreSQL."""

from analytics.invariants import rollup_violations
from analytics.models import UsageRollup
from tests.analytics.conftest import make_customer
from tests.billing.conftest import assert_ledger_ok
from tests.conftest import in_threads


def test_concurrent_charges_of_two_accounts_all_reach_their_rollups(
    services, transactional_db, chat, mini, image
):
    customers = [make_customer(), make_customer()]
    results = in_threads(24, lambda i: customers[i % 2].charge(input_tokens=100 + i))
    assert not [r for r in results if isinstance(r, Exception)], results
    rows = UsageRollup.objects.order_by("account_id").values_list("requests", flat=True)
    assert list(rows) == [12, 12]
    assert rollup_violations(deep=True) == []
    assert_ledger_ok()
