"""The usage API's query string, read into a `UsageQuery`. Bad input raises
ValidationFailed (400 `validation_error`) naming the parameter and what it accepts."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import Account, ApiKey
from analytics.selectors import GROUPS, UsageQuery
from analytics.timeranges import (
    DEFAULT_PRESET,
    MAX_RANGE,
    day_start,
    hour_ceil,
    is_on_the_hour,
    preset_range,
    zone,
)
from models_catalog.models import AIModel
from yunxin.errors import ValidationFailed

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DEFAULT_SPAN = timedelta(days=30)  # when only `end` is given


@dataclass(frozen=True)
class Page:
    offset: int = 0
    size: int = DEFAULT_PAGE_SIZE


def _values(params: QueryDict, name: str) -> list[str]:
    """`a,b` and `name=a&name=b` alike, blanks dropped, order kept, duplicates once."""
    found = [v.strip() for raw in params.getlist(name) for v in raw.split(",")]
    return list(dict.fromkeys(v for v in found if v))


def parse_tz(raw: str | None) -> ZoneInfo:
    if not raw:
        return ZoneInfo("UTC")
    tz = zone(raw)
    if tz is None:
        raise ValidationFailed(
            f"tz: {raw[:64]!r} is not a known time zone; use an IANA name like Europe/Paris."
        )
    return tz


def parse_moment(name: str, raw: str, tz: ZoneInfo) -> datetime:
    """A date (its local midnight in `tz`) or an ISO 8601 datetime on the hour (naive
    datetimes are read in `tz`)."""
    try:
        day: date | None = parse_date(raw)
        moment = None if day else parse_datetime(raw)
    except ValueError:
        day = moment = None
    if day:
        return day_start(day, tz)
    if moment is None:
        raise ValidationFailed(
            f"{name}: {raw[:40]!r} is not a date (2026-01-31) or an ISO 8601 datetime."
        )
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=tz)
    if not is_on_the_hour(moment):
        raise ValidationFailed(
            f"{name}: usage is kept per hour, so {name} must be on the hour (or a date)."
        )
    return moment.astimezone(ZoneInfo("UTC"))


def parse_range(params: QueryDict, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start_raw, end_raw = params.get("start", "").strip(), params.get("end", "").strip()
    now = timezone.now()
    if not start_raw and not end_raw:
        return preset_range(DEFAULT_PRESET, tz, now)
    end = parse_moment("end", end_raw, tz) if end_raw else hour_ceil(now)
    start = parse_moment("start", start_raw, tz) if start_raw else end - DEFAULT_SPAN
    if end <= start:
        raise ValidationFailed("end must be after start (the range is start ≤ t < end).")
    if end - start > MAX_RANGE:
        raise ValidationFailed(f"The range may span at most {MAX_RANGE.days} days.")
    return start, end


def parse_group_by(params: QueryDict) -> tuple[str, ...]:
    groups = _values(params, "group_by")
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValidationFailed(
            f"group_by: unknown group {unknown[0][:30]!r}; combine any of {', '.join(GROUPS)}."
        )
    if "day" in groups and "hour" in groups:
        raise ValidationFailed("group_by: group by day or by hour, not both.")
    return tuple(groups)


def parse_models(params: QueryDict) -> tuple[int, ...]:
    slugs = _values(params, "model")
    if not slugs:
        return ()
    found = dict(AIModel.objects.filter(slug__in=slugs).values_list("slug", "pk"))
    missing = [s for s in slugs if s not in found]
    if missing:
        raise ValidationFailed(f"model: no model named {missing[0][:120]!r}.")
    return tuple(found[s] for s in slugs)


def parse_api_keys(params: QueryDict, account: Account) -> tuple[int, ...]:
    """Keys of this account by id or by visible prefix (`yx_ab12cd34`). Another account's
    key is answered exactly like a key that does not exist."""
    wanted = _values(params, "api_key")
    if not wanted:
        return ()
    keys = ApiKey.objects.filter(account=account).values_list("pk", "prefix")
    by_name = {str(pk): pk for pk, _ in keys} | {f"yx_{prefix}": pk for pk, prefix in keys}
    missing = [w for w in wanted if w not in by_name]
    if missing:
        raise ValidationFailed(f"api_key: no API key {missing[0][:40]!r} in this account.")
    return tuple(dict.fromkeys(by_name[w] for w in wanted))


def usage_query(params: QueryDict, account: Account) -> UsageQuery:
    tz = parse_tz(params.get("tz"))
    start, end = parse_range(params, tz)
    return UsageQuery(
        account=account,
        start=start,
        end=end,
        tz=tz,
        group_by=parse_group_by(params),
        model_ids=parse_models(params),
        api_key_ids=parse_api_keys(params, account),
    )


# --- cursors ------------------------------------------------------------------------------


def _fingerprint(q: UsageQuery) -> str:
    canonical = [
        q.account.pk,
        q.start.isoformat(),
        q.end.isoformat(),
        q.tz.key,
        q.group_by,
        q.model_ids,
        q.api_key_ids,
    ]
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()[:16]


def cursor_for(q: UsageQuery, offset: int) -> str:
    raw = json.dumps({"o": offset, "q": _fingerprint(q)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_page(params: QueryDict, q: UsageQuery) -> Page:
    size_raw = params.get("page_size", "").strip()
    if size_raw and not (size_raw.isdigit() and 1 <= int(size_raw) <= MAX_PAGE_SIZE):
        raise ValidationFailed(f"page_size: a whole number from 1 to {MAX_PAGE_SIZE}.")
    size = int(size_raw) if size_raw else DEFAULT_PAGE_SIZE
    cursor = params.get("cursor", "").strip()
    if not cursor:
        return Page(0, size)
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, fingerprint = int(data["o"]), data["q"]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor: not a cursor this API gave out.") from exc
    if fingerprint != _fingerprint(q) or offset < 0:
        raise ValidationFailed(
            "cursor: this cursor belongs to another query; repeat the query's parameters."
        )
    return Page(offset, size)
