"""The rollups' invariants, checked by `manage.py check_usage_rollups` and by the tests:

1. For every account, its rollups' cost is what its usage ledger entries charged, to the
   micro-credit, and its rollups count as many requests as it has usage events; its
   daily rollups hold the same as its hourly ones.
2. (deep) Hour by hour, for every account × key × model, the hourly rollup is the sum of
   the usage events in that UTC hour, and day by day the daily rollup is the sum of the
   hourly ones.
"""

from __future__ import annotations

from datetime import UTC

from django.db.models import Count, Sum
from django.db.models.functions import Trunc

from analytics.models import UsageDailyRollup, UsageEvent, UsageRollup
from analytics.services import METRICS, deltas_add, units_micro
from billing.models import EntryKind, LedgerEntry


def _per_account(queryset, **sums) -> dict[int, tuple[int, ...]]:
    rows = queryset.order_by().values("account").annotate(**sums).values_list("account", *sums)
    return {pk: tuple(int(v or 0) for v in values) for pk, *values in rows}


def rollup_violations(*, deep: bool = False) -> list[str]:
    problems: list[str] = []
    rolled = _per_account(UsageRollup.objects, cost=Sum("cost"), n=Sum("requests"))
    daily = _per_account(UsageDailyRollup.objects, cost=Sum("cost"), n=Sum("requests"))
    charged = _per_account(LedgerEntry.objects.filter(kind=EntryKind.USAGE), s=Sum("amount"))
    events = _per_account(UsageEvent.objects, n=Count("id"))
    for pk in sorted(set(rolled) | set(charged) | set(events)):
        cost, requests = rolled.get(pk, (0, 0))
        ledger_cost = -charged.get(pk, (0,))[0]
        if cost != ledger_cost:
            problems.append(
                f"account {pk}: rollups hold {cost} micro-credits of usage, "
                f"the ledger charged {ledger_cost}"
            )
        if daily.get(pk, (0, 0)) != (cost, requests):
            problems.append(
                f"account {pk}: daily rollups hold {daily.get(pk, (0, 0))} (cost, requests), "
                f"hourly ones {(cost, requests)}"
            )
        if requests != events.get(pk, (0,))[0]:
            problems.append(
                f"account {pk}: rollups count {requests} requests, "
                f"there are {events.get(pk, (0,))[0]} usage events"
            )
    if deep:
        problems += _hourly_violations()
    return problems


def _hourly_violations() -> list[str]:
    grain = ("account_id", "api_key_id", "model_id")
    expected: dict[tuple, tuple[int, ...]] = {}
    cells = (
        UsageEvent.objects.order_by()
        .annotate(h=Trunc("occurred_at", "hour", tzinfo=UTC))
        .values(*grain, "h")
        .annotate(
            requests=Count("id"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            reasoning_tokens=Sum("reasoning_tokens"),
            cached_input_tokens=Sum("cached_input_tokens"),
            units=Sum("units"),
            cost=Sum("cost"),
        )
    )
    for c in cells.iterator(chunk_size=5000):
        values = [int(c[m]) for m in METRICS if m != "units_micro"]
        values.insert(METRICS.index("units_micro"), units_micro(c["units"] or 0))
        expected[(c["account_id"], c["api_key_id"], c["model_id"], c["h"])] = tuple(values)
    actual = {
        (r[0], r[1], r[2], r[3]): tuple(int(v) for v in r[4:])
        for r in UsageRollup.objects.order_by()
        .values_list(*grain, "hour", *METRICS)
        .iterator(chunk_size=5000)
    }
    return _differences("hour", actual, expected, "events") + _daily_violations(actual)


def _differences(period: str, actual: dict, expected: dict, source: str) -> list[str]:
    return [
        f"account {cell[0]} key {cell[1]} model {cell[2]} {period} {cell[3]}: "
        f"rollup {actual.get(cell)}, {source} {expected.get(cell)}"
        for cell in sorted(set(expected) | set(actual), key=lambda c: (c[0], c[3], c[2], c[1] or 0))
        if expected.get(cell) != actual.get(cell)
    ]


def _daily_violations(hourly: dict[tuple, tuple[int, ...]]) -> list[str]:
    expected: dict[tuple, list[int]] = {}
    for (account, key, model, hour), values in hourly.items():
        deltas_add(expected, (account, key, model, hour.astimezone(UTC).date()), values)
    actual = {
        (r[0], r[1], r[2], r[3]): tuple(int(v) for v in r[4:])
        for r in UsageDailyRollup.objects.order_by()
        .values_list("account_id", "api_key_id", "model_id", "day", *METRICS)
        .iterator(chunk_size=5000)
    }
    return _differences("day", actual, {k: tuple(v) for k, v in expected.items()}, "hours")
