"""Time ranges over hourly rollups, in a customer's time zone.

Rollups are kept per UTC hour, so every range is a whole number of UTC hours: `start`
inclusive, `end` exclusive, both on the hour. A local day is the set of hours whose start
falls in it. In a zone whose offset is a whole number of hours (most of the world) that
is exactly the local day. In a zone offset by a half or three-quarter hour (India
+05:30, Nepal +05:45, Newfoundland −03:30, …) the hour that straddles local midnight is
counted in the day it starts in, so a day's figures may include up to 45 minutes of the
previous local day and miss as much of its own end; totals over a range never lose or
double-count anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MAX_RANGE = timedelta(days=366)


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: datetime) -> datetime:
    floor = hour_floor(moment)
    return floor if floor == moment else floor + HOUR


def is_on_the_hour(moment: datetime) -> bool:
    return hour_floor(moment) == moment


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone of that name, or None if there is none."""
    name = (name or "").strip()
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first UTC hour counted in a local day (see the module note)."""
    return hour_ceil(datetime.combine(day, time(0), tz))


def local_today(tz: ZoneInfo, now: datetime) -> date:
    return now.astimezone(tz).date()


@dataclass(frozen=True)
class Preset:
    slug: str
    label: str
    days: int  # 0: the last 24 hours, by hour


PRESETS = {
    p.slug: p
    for p in (
        Preset("24h", "Last 24 hours", 0),
        Preset("7d", "Last 7 days", 7),
        Preset("30d", "Last 30 days", 30),
        Preset("90d", "Last 90 days", 90),
    )
}
DEFAULT_PRESET = "30d"


def preset_range(slug: str, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a preset: the last 24 whole or running hours, or the last N local
    days including today."""
    preset = PRESETS[slug]
    if preset.days == 0:
        end = hour_floor(now) + HOUR
        return end - 24 * HOUR, end
    today = local_today(tz, now)
    return day_start(today - (preset.days - 1) * DAY, tz), day_start(today + DAY, tz)


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """The local days whose hours make up [start, end)."""
    first = start.astimezone(tz).date()
    last = (end - HOUR).astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def hours(start: datetime, end: datetime) -> list[datetime]:
    return [start + i * HOUR for i in range(int((end - start) / HOUR))]
