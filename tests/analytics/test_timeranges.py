from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from analytics.timeranges import day_start, local_days, preset_range, zone


def test_a_whole_hour_zone_day_starts_at_its_midnight():
    assert day_start(date(2026, 3, 1), ZoneInfo("Asia/Shanghai")) == datetime(
        2026, 2, 28, 16, tzinfo=UTC
    )


def test_a_half_hour_zone_day_starts_with_the_first_hour_starting_in_it():
    # Local midnight in India is 18:30 UTC; the 18:00 UTC hour starts the day before.
    assert day_start(date(2026, 3, 1), ZoneInfo("Asia/Kolkata")) == datetime(
        2026, 2, 28, 19, tzinfo=UTC
    )


def test_seven_days_are_the_last_seven_local_days_including_today():
    tz = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 23:00 on the 9th in New York
    start, end = preset_range("7d", tz, now)
    assert local_days(start, end, tz) == [date(2026, 3, d) for d in range(3, 10)]


def test_24_hours_end_with_the_running_hour():
    start, end = preset_range("24h", ZoneInfo("UTC"), datetime(2026, 3, 10, 3, 25, tzinfo=UTC))
    assert (start, end) == (
        datetime(2026, 3, 9, 4, tzinfo=UTC),
        datetime(2026, 3, 10, 4, tzinfo=UTC),
    )


def test_only_real_zone_names_are_zones():
    assert zone("Europe/Paris") == ZoneInfo("Europe/Paris")
    assert [zone(n) for n in ("", "Mars/Base", "../etc/passwd", "/etc/localtime", "Europe")] == [
        None
    ] * 5
