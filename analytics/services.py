"""Writes of usage rollups.

`usage_rollups_add` is called by metering right after it inserts usage events, inside the
same transaction: the events' counts and costs are added to their hour's and their day's
rollup rows with upserts (`INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`). On
PostgreSQL an upsert is atomic per row, so concurrent writers never lose an increment;
every metering writer also holds its account's row lock, and rollup rows belong to one
account, so two transactions never wait on each other's rollup rows in opposite orders.
If the metering transaction rolls back, so do its increments: rollups and events can only
move together.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction

from analytics.models import ROLLUP_METRICS, UsageDailyRollup, UsageEvent, UsageRollup

# (account_id, api_key_id or None, model_id, UTC hour) -> [requests, input_tokens,
# output_tokens, reasoning_tokens, cached_input_tokens, units_micro, cost]
Grain = tuple[int, int | None, int, datetime]
Deltas = dict[Grain, list[int]]
METRICS = ROLLUP_METRICS
UNIT_MICRO = Decimal(1_000_000)


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour a moment falls in: the rollups' grain."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def units_micro(units: Decimal) -> int:
    """Units (at most 6 decimals) as an exact integer of micro-units."""
    return int((Decimal(units) * UNIT_MICRO).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def deltas_add(deltas: Deltas, grain: Grain, values: tuple[int, ...]) -> None:
    row = deltas.get(grain)
    if row is None:
        deltas[grain] = list(values)
    else:
        for i, value in enumerate(values):
            row[i] += value


def usage_deltas(events: Iterable[UsageEvent]) -> Deltas:
    deltas: Deltas = {}
    for e in events:
        grain = (e.account_id, e.api_key_id, e.model_id, hour_of(e.occurred_at))
        values = (
            1,
            e.input_tokens,
            e.output_tokens,
            e.reasoning_tokens,
            e.cached_input_tokens,
            units_micro(e.units),
            e.cost,
        )
        deltas_add(deltas, grain, values)
    return deltas


def usage_rollups_add(*, events: Iterable[UsageEvent]) -> None:
    """Add just-inserted usage events to their rollups. Call it in the transaction that
    inserted them (metering does), so that both commit or neither does."""
    usage_rollups_apply(deltas=usage_deltas(events))


_UPSERT = """
INSERT INTO {table} (account_id, api_key_id, model_id, {period}, {metrics})
{source}
ON CONFLICT {target} DO UPDATE SET {increments}
"""
# Per grain: the rollup table, its period column and the period's SQL array type.
GRAINS = ((UsageRollup, "hour", "timestamptz"), (UsageDailyRollup, "day", "date"))


@functools.cache
def _upsert_sql(grain: int, *, keyless: bool, arrays: bool = False) -> str:
    model, period, period_type = GRAINS[grain]
    table = model._meta.db_table
    target = (
        f"(account_id, model_id, {period}) WHERE api_key_id IS NULL"
        if keyless
        else f"(account_id, api_key_id, model_id, {period})"
    )
    if arrays:  # a column of values per array parameter, in the INSERT's column order
        columns = ["bigint", "bigint", "bigint", period_type] + ["bigint"] * len(METRICS)
        arrays_sql = ", ".join(f"%s::{t}[]" for t in columns)  # types only, no values
        source = f"SELECT * FROM unnest({arrays_sql})"  # noqa: S608
    else:
        source = "VALUES (" + ", ".join(["%s"] * (4 + len(METRICS))) + ")"
    return _UPSERT.format(
        table=table,
        period=period,
        metrics=", ".join(METRICS),
        source=source,
        target=target,
        increments=", ".join(f"{m} = {table}.{m} + EXCLUDED.{m}" for m in METRICS),
    )


def _by_day(deltas: Deltas) -> dict[tuple, list[int]]:
    days: dict[tuple, list[int]] = {}
    for (account, key, model, hour), values in deltas.items():
        deltas_add(days, (account, key, model, hour.date()), values)  # type: ignore[arg-type]
    return days


def _upsert(cursor, grain: int, cells: dict[tuple, list[int]]) -> None:
    """Rows in grain order: on PostgreSQL in one statement (arrays unnested), elsewhere
    one upsert per row."""
    ops = connection.ops
    adapt = ops.adapt_datetimefield_value if grain == 0 else ops.adapt_datefield_value
    ordered = sorted(cells.items(), key=lambda item: (item[0][0], item[0][1] or 0, *item[0][2:]))
    for keyless in (False, True):
        rows = [
            (account, key, model, adapt(period), *values)
            for (account, key, model, period), values in ordered
            if (key is None) == keyless
        ]
        if len(rows) == 1:  # metering's usual case: one event
            cursor.execute(_upsert_sql(grain, keyless=keyless), rows[0])
        elif rows and connection.vendor == "postgresql":
            columns = [list(c) for c in zip(*rows, strict=True)]
            cursor.execute(_upsert_sql(grain, keyless=keyless, arrays=True), columns)
        elif rows:
            cursor.executemany(_upsert_sql(grain, keyless=keyless), rows)


def usage_rollups_apply(*, deltas: Deltas) -> None:
    """Add pre-summed deltas (one per hourly grain) to the hourly and daily rollups: the
    batch form, also used by the bench-data generator."""
    if not deltas:
        return
    # No savepoint inside the caller's transaction: this is part of its unit of work.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        _upsert(cursor, 0, deltas)
        _upsert(cursor, 1, _by_day(deltas))


@transaction.atomic
def usage_rollups_rebuild(*, account_id: int) -> int:
    """Recompute one account's rollups from its usage events; returns the rows written.
    Holds the account's lock, which every metering writer takes first, so no event can
    be added meanwhile: afterwards the rollups equal the events exactly. For repairs and
    for events written before rollups existed."""
    from billing.services.ledger import lock_account  # billing imports this module

    lock_account(account_id)
    UsageRollup.objects.filter(account_id=account_id).delete()
    UsageDailyRollup.objects.filter(account_id=account_id).delete()
    fields = (
        "account_id",
        "api_key_id",
        "model_id",
        "occurred_at",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "cached_input_tokens",
        "units",
        "cost",
    )
    events = (
        UsageEvent(**dict(zip(fields, row, strict=True)))
        for row in UsageEvent.objects.filter(account_id=account_id)
        .order_by()
        .values_list(*fields)
        .iterator(chunk_size=5000)
    )
    deltas = usage_deltas(events)
    usage_rollups_apply(deltas=deltas)
    return len(deltas)


def format_units(micro: int) -> str:
    """12_500_000 micro-units -> "12.500000" (the API's decimal string for units)."""
    return str(Decimal(int(micro)).scaleb(-6).quantize(Decimal("0.000001")))
