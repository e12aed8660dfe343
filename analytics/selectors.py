"""Reads of usage, scoped to an account.

Everything except a single event's detail reads the hourly rollups (`UsageRollup`), never
the usage events: a query's cost depends on the hours and the keys × models in its
range, not on how many requests were made.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, Q, QuerySet, Sum
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from accounts.models import Account, ApiKey
from analytics.models import UsageDailyRollup, UsageEvent, UsageRollup
from analytics.services import METRICS
from analytics.timeranges import DAY, HOUR, hour_floor
from models_catalog.models import AIModel
from yunxin.errors import NotFound

UTC_ZONE = ZoneInfo("UTC")
GROUPS = ("day", "hour", "model", "api_key")
_COLUMN = {"day": "day", "hour": "hour", "model": "model_id", "api_key": "api_key_id"}


def usage_event_get(*, account: Account, request_id: str) -> UsageEvent:
    event = (
        UsageEvent.objects.select_related("model", "rate", "api_key")
        .filter(account=account, request_id=request_id)
        .first()
    )
    if event is None:
        raise NotFound("No metered request with that id.")
    return event


@dataclass
class UsageSums:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_input_tokens: int = 0
    units_micro: int = 0
    cost: int = 0

    @classmethod
    def of(cls, row: dict) -> UsageSums:
        return cls(**{m: int(row[m] or 0) for m in METRICS})

    def add(self, other: UsageSums) -> None:
        self.requests += other.requests
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.units_micro += other.units_micro
        self.cost += other.cost

    @property
    def tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.reasoning_tokens
            + (self.cached_input_tokens)
        )


@dataclass(frozen=True)
class UsageQuery:
    """One account's usage in [start, end) (UTC, on the hour), grouped and filtered.
    `tz` decides what a day is (see analytics.timeranges)."""

    account: Account
    start: datetime
    end: datetime
    tz: ZoneInfo = UTC_ZONE
    group_by: tuple[str, ...] = ()
    model_ids: tuple[int, ...] = ()
    api_key_ids: tuple[int, ...] = ()


@dataclass
class UsageRow:
    day: date | None = None
    hour: datetime | None = None
    model: AIModel | None = None
    api_key: ApiKey | None = None
    sums: UsageSums = field(default_factory=UsageSums)


# --- where a query reads from ------------------------------------------------------------
#
# Hourly rollups answer everything. Daily rollups (24 times fewer rows) answer the whole
# UTC days of a range: all of it when days are asked for in a zone whose days are UTC
# days, and the middle of any range for totals and per-model / per-key sums (its first
# and last partial days then come from the hourly rows).


def _filtered(rollups: QuerySet, q: UsageQuery, filtered: bool = True) -> QuerySet:
    rollups = rollups.filter(account=q.account)
    if filtered and q.model_ids:
        rollups = rollups.filter(model_id__in=q.model_ids)
    if filtered and q.api_key_ids:
        rollups = rollups.filter(api_key_id__in=q.api_key_ids)
    return rollups.order_by()


def _hourly(q: UsageQuery, start: datetime, end: datetime, filtered: bool = True) -> QuerySet:
    return _filtered(UsageRollup.objects.filter(hour__gte=start, hour__lt=end), q, filtered)


def _daily(q: UsageQuery, first: date, stop: date, filtered: bool = True) -> QuerySet:
    return _filtered(UsageDailyRollup.objects.filter(day__gte=first, day__lt=stop), q, filtered)


def _whole_days(q: UsageQuery) -> tuple[datetime, datetime] | None:
    """The whole UTC days inside [start, end), as [first midnight, last midnight)."""
    first = q.start if q.start.hour == 0 else (q.start + DAY).replace(hour=0)
    stop = q.end.replace(hour=0)
    return (first, stop) if first < stop else None


def _days_are_utc_days(q: UsageQuery) -> bool:
    """Whether the range is whole UTC days and every one of them is a day in `tz`."""
    if q.start.hour or q.end.hour:
        return False
    days = (q.end - q.start) // DAY
    return all(not q.tz.utcoffset(q.start + i * DAY) for i in range(days + 1))


def _sums() -> dict[str, Cast]:
    # As bigint: PostgreSQL sums bigints as numeric, which is slower to send and read.
    return {m: Cast(Sum(m), BigIntegerField()) for m in METRICS}


def _by_time(q: UsageQuery, groups: tuple[str, ...]) -> QuerySet:
    """Grouped by time (and maybe model and key), paged by the database."""
    columns = [_COLUMN[g] for g in groups]
    if "day" in groups and _days_are_utc_days(q):
        rollups = _daily(q, q.start.date(), q.end.date())
    else:
        rollups = _hourly(q, q.start, q.end)
        if "day" in groups:
            rollups = rollups.annotate(day=TruncDate("hour", tzinfo=q.tz))
    return rollups.values(*columns).annotate(**_sums()).order_by(*columns)


def usage_rows_query(q: UsageQuery) -> QuerySet:
    """The grouped query behind time-grouped rows (for measuring it)."""
    return _by_time(q, q.group_by)


def _parts(q: UsageQuery) -> list[QuerySet]:
    """The range as daily rows for its whole UTC days plus hourly rows for the rest."""
    days = _whole_days(q)
    if days is None:
        return [_hourly(q, q.start, q.end)]
    first, stop = days
    edges = Q(hour__gte=q.start, hour__lt=first) | Q(hour__gte=stop, hour__lt=q.end)
    parts = [_daily(q, first.date(), stop.date())]
    if q.start < first or stop < q.end:
        parts.append(_filtered(UsageRollup.objects.filter(edges), q))
    return parts


def _merged(q: UsageQuery, groups: tuple[str, ...]) -> list[dict]:
    """Grouped by model and/or key only: a few rows per part, merged here."""
    columns = [_COLUMN[g] for g in groups]
    merged: dict[tuple, dict] = {}
    for part in _parts(q):
        for record in part.values(*columns).annotate(**_sums()):
            cell = tuple(record[c] for c in columns)
            if cell in merged:
                for m in METRICS:
                    merged[cell][m] = int(merged[cell][m] or 0) + int(record[m] or 0)
            else:
                merged[cell] = record
    return [merged[cell] for cell in sorted(merged, key=lambda c: [v or 0 for v in c])]


def _is_timed(groups: tuple[str, ...]) -> bool:
    return "day" in groups or "hour" in groups


def usage_totals(q: UsageQuery) -> UsageSums:
    totals = UsageSums()
    for part in _parts(q):
        totals.add(UsageSums.of(part.aggregate(**_sums())))
    return totals


def _rows(q: UsageQuery, records: list[dict]) -> list[UsageRow]:
    """Rows with their model and key objects (two queries at most, for the ids seen)."""
    model_ids = {r["model_id"] for r in records if "model_id" in r}
    key_ids = {r["api_key_id"] for r in records if r.get("api_key_id")}
    models = AIModel.objects.in_bulk(model_ids) if model_ids else {}
    keys = ApiKey.objects.filter(account=q.account).in_bulk(key_ids) if key_ids else {}
    return [
        UsageRow(
            day=r.get("day"),
            hour=r.get("hour"),
            model=models.get(r.get("model_id")),
            api_key=keys.get(r.get("api_key_id")),
            sums=UsageSums.of(r),
        )
        for r in records
    ]


def usage_rows(q: UsageQuery, *, offset: int = 0, limit: int = 100) -> list[UsageRow]:
    """One page of grouped rows, ordered by the groups in the order asked (time
    ascending, then model and key ids). Without groups, the one row is the total."""
    if not q.group_by:
        return [UsageRow(sums=usage_totals(q))][offset : offset + limit]
    if not _is_timed(q.group_by):
        return _rows(q, _merged(q, q.group_by)[offset : offset + limit])
    return _rows(q, list(_by_time(q, q.group_by)[offset : offset + limit]))


def usage_rows_all(q: UsageQuery, *, chunk: int = 2000) -> Iterator[UsageRow]:
    """Every grouped row, from one streamed query (the CSV export writes these)."""
    if not _is_timed(q.group_by):
        yield from usage_rows(q, limit=10**9)
        return
    batch: list[dict] = []
    for record in _by_time(q, q.group_by).iterator(chunk_size=chunk):
        batch.append(record)
        if len(batch) == chunk:
            yield from _rows(q, batch)
            batch = []
    yield from _rows(q, batch)


# --- the Analytics page -----------------------------------------------------------------


@dataclass
class Overview:
    """What the Analytics page shows for one range and filter."""

    bucket: str  # "day" or "hour"
    totals: UsageSums
    by_bucket: dict[date | datetime, UsageSums]
    cost_by_bucket_model: dict[tuple[date | datetime, int], int]
    by_model: dict[int, UsageSums]
    by_key: dict[int | None, UsageSums]
    models: dict[int, AIModel]
    models_in_range: list[AIModel]


def usage_overview(q: UsageQuery, *, bucket: str) -> Overview:
    """Sums per time bucket × model (the charts, the model table, the totals) and per key
    (the key table): two grouped reads, whatever the number of requests."""
    totals, by_bucket, by_model = UsageSums(), {}, {}
    cost_by_bucket_model: dict = {}
    for r in _by_time(q, (bucket, "model")):
        sums, when = UsageSums.of(r), r[_COLUMN[bucket]]
        totals.add(sums)
        by_bucket.setdefault(when, UsageSums()).add(sums)
        by_model.setdefault(r["model_id"], UsageSums()).add(sums)
        cost_by_bucket_model[(when, r["model_id"])] = sums.cost
    by_key = (
        {r["api_key_id"]: UsageSums.of(r) for r in _merged(q, ("api_key",))}
        if totals.requests
        else {}
    )
    used = set(by_model)
    if q.model_ids or q.api_key_ids:  # the filter's choices: every model used in the range
        used = set(
            _hourly(q, q.start, q.end, filtered=False).values_list("model_id", flat=True).distinct()
        )
    models = AIModel.objects.in_bulk(used | set(q.model_ids))
    return Overview(
        bucket=bucket,
        totals=totals,
        by_bucket=by_bucket,
        cost_by_bucket_model=cost_by_bucket_model,
        by_model=by_model,
        by_key=by_key,
        models=models,
        models_in_range=sorted(models.values(), key=lambda m: m.slug),
    )


def usage_exists(*, account: Account) -> bool:
    return UsageRollup.objects.filter(account=account).exists()


# --- credit runway ----------------------------------------------------------------------


@dataclass(frozen=True)
class Runway:
    available: int  # micro-credits the account can still spend
    week_spend: int  # micro-credits spent in the last 7 days
    days: int | None  # whole days left at that pace; None when nothing was spent

    @property
    def daily_average(self) -> int:
        return self.week_spend // 7


def credit_runway(*, account: Account, now: datetime | None = None) -> Runway:
    """Days of credit left at the last 7 days' average spend (168 hours up to now)."""
    end = hour_floor(now or timezone.now()) + HOUR
    week = usage_totals(UsageQuery(account=account, start=end - 7 * DAY, end=end)).cost
    available = max(account.available, 0)
    return Runway(available, week, available * 7 // week if week else None)


__all__ = [
    "GROUPS",
    "Overview",
    "Runway",
    "UsageQuery",
    "UsageRow",
    "UsageSums",
    "credit_runway",
    "usage_event_get",
    "usage_exists",
    "usage_overview",
    "usage_rows",
    "usage_rows_all",
    "usage_totals",
]
