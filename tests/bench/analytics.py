"""The analytics part of `make bench`: usage reads at scale, beside the raw aggregation.

Generates `--usage-events` usage events (analytics.generator: several accounts, keys and
models over 90 days, charged through the ledger, rolled up), then measures for the
heaviest account, in the same run:

- the 30-day `GET /api/usage?group_by=day,model` (one page of up to 1000 rows) through
  the Django test client, session-authenticated;
- the 30-day Analytics page, rendered the same way;
- the same aggregation (UTC days × model, requests, tokens, units, cost) done directly
  over the raw usage events with SQL GROUP BY, which is what a portal without rollups
  would run;

and prints p50/p95 and the ratios. It also checks that the API's rows equal the raw
aggregation's and that rollups equal the ledger. Sizes: `--usage-events 1000000` and
`10000000` reproduce the scale numbers of README.md.
"""

from __future__ import annotations

import time
from datetime import UTC

from tests.bench.__main__ import emit, pct

RAW_SQL = """
SELECT {day} AS day, model_id, COUNT(*), SUM(input_tokens), SUM(output_tokens),
       SUM(reasoning_tokens), SUM(cached_input_tokens), SUM(units), SUM(cost)
FROM analytics_usageevent
WHERE account_id = %s AND occurred_at >= %s AND occurred_at < %s
GROUP BY 1, 2 ORDER BY 1, 2
"""


def samples(fn, n: int) -> list[float]:
    fn()  # warm up (plans, caches)
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def report(name: str, seconds: list[float], **extra) -> float:
    p50 = pct(seconds, 0.5)
    emit(name, p50, "ms", p95_ms=round(pct(seconds, 0.95), 2), runs=len(seconds), **extra)
    return p50


def raw_aggregation(account_id: int, start, end) -> list[tuple]:
    from django.db import connection

    day = (
        "(occurred_at AT TIME ZONE 'UTC')::date"
        if connection.vendor == "postgresql"
        else "date(occurred_at)"
    )
    with connection.cursor() as cursor:
        cursor.execute(RAW_SQL.format(day=day), [account_id, start, end])
        return cursor.fetchall()


def analyze() -> None:
    """What autovacuum does on a live database: fresh statistics and visibility maps."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        tables = ("usageevent", "usagerollup", "usagedailyrollup")
        for table in [f"analytics_{t}" for t in tables] + ["billing_ledgerentry"]:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def api_matches_raw(body: dict, raw: list[tuple], slugs: dict[int, str]) -> bool:
    from billing.money import format_credits

    expected = [(str(r[0])[:10], slugs[r[1]], int(r[2]), format_credits(int(r[8]))) for r in raw]
    got = [(r["day"], r["model"], r["requests"], r["cost"]) for r in body["results"]]
    return expected == got and body["next"] is None


def bench_analytics(args) -> None:
    from django.test import Client
    from django.utils import timezone

    from analytics.generator import usage_generate
    from analytics.invariants import rollup_violations
    from analytics.selectors import UsageQuery, usage_rows
    from analytics.timeranges import preset_range
    from models_catalog.models import AIModel

    started = time.perf_counter()
    generated = usage_generate(
        events=args.usage_events, accounts=args.usage_accounts, days=90, seed=args.usage_seed
    )
    emit(
        "usage_generate",
        generated.events / (time.perf_counter() - started),
        "events/s",
        events=generated.events,
        seconds=round(time.perf_counter() - started, 1),
    )
    analyze()
    heavy = generated.accounts[0]
    start, end = preset_range("30d", UTC, timezone.now())
    raw = raw_aggregation(heavy.pk, start, end)
    in_range = sum(int(r[2]) for r in raw)
    client = Client()
    client.force_login(heavy.owner)
    url = "/api/usage?group_by=day,model&page_size=1000"
    body = client.get(url).json()
    slugs = dict(AIModel.objects.values_list("pk", "slug"))
    emit("usage_api_equals_raw_aggregation", int(api_matches_raw(body, raw, slugs)), "bool")
    problems = rollup_violations()
    emit("usage_rollups_equal_ledger", int(not problems), "bool", problems=len(problems))

    context = {"account_events": generated.by_account[heavy.pk], "events_in_30_days": in_range}
    raw_ms = report(
        "usage_raw_aggregation_30d",
        samples(lambda: raw_aggregation(heavy.pk, start, end), 5),
        note="SQL GROUP BY day, model over the usage events",
        **context,
    )
    q = UsageQuery(account=heavy, start=start, end=end, group_by=("day", "model"))
    query_ms = report(
        "usage_query_30d_day_model",
        samples(lambda: usage_rows(q, limit=1000), args.usage_runs),
        note="the usage selector the API calls: rollups, then model names",
    )
    api_ms = report(
        "usage_api_30d_day_model",
        samples(lambda: client.get(url), args.usage_runs),
        rows=len(body["results"]),
        note="GET /api/usage through the Django test client, session auth",
    )
    page_ms = report("analytics_page_30d", samples(lambda: client.get("/analytics/"), 10))
    zone = "/analytics/?tz=Asia/Tokyo"
    report("analytics_page_30d_tokyo", samples(lambda: client.get(zone), 10))
    emit("usage_query_vs_raw_aggregation", raw_ms / query_ms, "ratio", note="x faster")
    emit("usage_api_vs_raw_aggregation", raw_ms / api_ms, "ratio", note="x faster")
    emit("analytics_page_vs_raw_aggregation", raw_ms / page_ms, "ratio", note="x faster")
    execution = database_execution_ms(heavy.pk, start, end, q)
    if execution:
        raw_exec, ours_exec = execution
        emit("usage_db_execution_raw_30d", raw_exec, "ms", note="EXPLAIN ANALYZE, server side")
        emit("usage_db_execution_rollups_30d", ours_exec, "ms", note="EXPLAIN ANALYZE")
        emit("usage_db_execution_vs_raw", raw_exec / ours_exec, "ratio", note="x faster")


def database_execution_ms(account_id: int, start, end, q) -> tuple[float, float] | None:
    """Median server-side execution time of the raw aggregation and of the rollup query
    (PostgreSQL's own timing: no network, no Python)."""
    import json as jsonlib

    from django.db import connection

    from analytics.selectors import usage_rows_query

    if connection.vendor != "postgresql":
        return None
    sql, params = usage_rows_query(q).query.sql_with_params()
    day = "(occurred_at AT TIME ZONE 'UTC')::date"
    queries = [(RAW_SQL.format(day=day), [account_id, start, end]), (sql, list(params))]
    medians = []
    with connection.cursor() as cursor:
        for text, values in queries:
            times = []
            for _ in range(7):
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + text, values)
                plan = cursor.fetchone()[0]
                plan = jsonlib.loads(plan) if isinstance(plan, str) else plan
                times.append(plan[0]["Execution Time"])
            medians.append(sorted(times)[len(times) // 2])
    return medians[0], medians[1]
