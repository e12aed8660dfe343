"""What the Analytics page shows, built from one `Overview`: the charts, the breakdown
tables and the CSV link of exactly that selection."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse

from accounts.models import ApiKey
from analytics.charts import OTHER_COLOR, PALETTE, Chart, Series, compact, stacked_bars
from analytics.forms import Selection
from analytics.selectors import Overview, UsageSums
from analytics.timeranges import hours, local_days
from billing.money import round_micro
from billing.templatetags.money import credits
from models_catalog.models import AIModel

TOKEN_KINDS = (
    ("input_tokens", "Input", "#3b5bdb"),
    ("cached_input_tokens", "Cached input", "#91a7ff"),
    ("output_tokens", "Output", "#f08c00"),
    ("reasoning_tokens", "Reasoning", "#c2255c"),
)


@dataclass(frozen=True)
class BreakdownRow:
    name: str
    detail: str  # slug or key prefix
    sums: UsageSums
    share: str  # of the range's spend, e.g. "42.3%"
    average_cost: int | None  # micro-credits per request
    color: str = ""
    muted: bool = False


def share_of(part: int, whole: int) -> str:
    if whole <= 0:
        return "—"
    tenths = (part * 2000 + whole) // (2 * whole)  # tenths of a percent, half up
    return f"{tenths // 10}.{tenths % 10}%"


def average_cost(sums: UsageSums) -> int | None:
    return round_micro(Decimal(sums.cost) / sums.requests) if sums.requests else None


def _row(name: str, detail: str, sums: UsageSums, total: int, **extra) -> BreakdownRow:
    return BreakdownRow(name, detail, sums, share_of(sums.cost, total), average_cost(sums), **extra)


def model_colors(overview: Overview) -> dict[int, str]:
    """The models with the most spend get the palette, in order; the rest share grey."""
    ranked = sorted(overview.by_model, key=lambda m: -overview.by_model[m].cost)
    return {m: PALETTE[i] if i < len(PALETTE) else OTHER_COLOR for i, m in enumerate(ranked)}


def model_rows(overview: Overview, colors: dict[int, str]) -> list[BreakdownRow]:
    total = overview.totals.cost
    rows = []
    for model_id, sums in sorted(overview.by_model.items(), key=lambda kv: -kv[1].cost):
        model = overview.models.get(model_id) or AIModel(slug=f"model {model_id}")
        name = model.display_name or model.slug
        rows.append(_row(name, model.slug, sums, total, color=colors[model_id]))
    return rows


def key_rows(overview: Overview, keys: dict[int, ApiKey]) -> list[BreakdownRow]:
    total = overview.totals.cost
    rows = []
    for key_id, sums in sorted(overview.by_key.items(), key=lambda kv: -kv[1].cost):
        key = keys.get(key_id) if key_id else None
        if key is None:
            rows.append(_row("No key", "", sums, total, muted=True))
        else:
            name = key.name + (" (revoked)" if key.revoked_at else "")
            rows.append(_row(name, key.display_prefix, sums, total, muted=not key.is_active))
    return rows


def charts(overview: Overview, selection: Selection, colors: dict[int, str]) -> list[Chart]:
    q = selection.query
    if overview.bucket == "hour":
        buckets: list = [h.astimezone(q.tz) for h in hours(q.start, q.end)]
    else:
        buckets = local_days(q.start, q.end, q.tz)
    per = "hour" if overview.bucket == "hour" else "day"
    by_model: dict[int | None, dict] = {}
    for (bucket, model_id), cost in overview.cost_by_bucket_model.items():
        slot = model_id if colors[model_id] != OTHER_COLOR else None
        values = by_model.setdefault(slot, {})
        values[bucket] = values.get(bucket, 0) + cost
    rank = {m: i for i, m in enumerate(colors)}
    spend = [
        Series(overview.models[m].slug if m in overview.models else str(m), by_model[m], colors[m])
        for m in sorted((m for m in by_model if m is not None), key=rank.__getitem__)
    ]
    if None in by_model:
        spend.append(Series("Other models", by_model[None], OTHER_COLOR))
    requests = {b: s.requests for b, s in overview.by_bucket.items()}
    tokens = [
        Series(label, {b: getattr(s, name) for b, s in overview.by_bucket.items()}, color)
        for name, label, color in TOKEN_KINDS
    ]
    return [
        stacked_bars(
            chart_id="chart-spend",
            title=f"Credits spent per {per}, by model",
            buckets=buckets,
            series=spend,
            fmt=credits,
        ),
        stacked_bars(
            chart_id="chart-requests",
            title=f"Requests per {per}",
            buckets=buckets,
            series=[Series("Requests", requests)],
            fmt=compact,
        ),
        stacked_bars(
            chart_id="chart-tokens",
            title=f"Tokens per {per}, by kind",
            buckets=buckets,
            series=tokens,
            fmt=compact,
        ),
    ]


def csv_url(selection: Selection) -> str:
    """The usage export of exactly this selection: same hours, time zone, filters and
    buckets, one row per bucket × model × key."""
    q = selection.query
    params = {
        "start": q.start.strftime("%Y-%m-%dT%H:%MZ"),
        "end": q.end.strftime("%Y-%m-%dT%H:%MZ"),
        "tz": q.tz.key,
        "group_by": f"{selection.bucket},model,api_key",
        "model": selection.model_slug,
        "api_key": ",".join(str(k) for k in q.api_key_ids),
    }
    return reverse("api_usage_export") + "?" + urlencode({k: v for k, v in params.items() if v})


def page_context(overview: Overview, selection: Selection, keys: list[ApiKey]) -> dict:
    """`keys`: all of the account's keys (the filter lists them too)."""
    colors = model_colors(overview)
    return {
        "overview": overview,
        "totals": overview.totals,
        "average_cost": average_cost(overview.totals),
        "charts": charts(overview, selection, colors),
        "model_rows": model_rows(overview, colors),
        "key_rows": key_rows(overview, {k.pk: k for k in keys}),
        "csv_url": csv_url(selection),
    }
