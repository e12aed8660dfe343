"""Roll up the usage events written before rollups existed (grouped queries). Events
metered by a process still running old code after this migration are caught up by
`manage.py rebuild_usage_rollups`, which `manage.py check_usage_rollups` points to."""

from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal

from django.db import migrations
from django.db.models import Count, Sum
from django.db.models.functions import Trunc, TruncDate

SUMS = {
    "requests": Count("id"),
    "input_tokens": Sum("input_tokens"),
    "output_tokens": Sum("output_tokens"),
    "reasoning_tokens": Sum("reasoning_tokens"),
    "cached_input_tokens": Sum("cached_input_tokens"),
    "units": Sum("units"),
    "cost": Sum("cost"),
}


def _rows(events, period: str, truncate, Rollup):
    cells = (
        events.order_by()
        .annotate(period=truncate)
        .values("account_id", "api_key_id", "model_id", "period")
        .annotate(**SUMS)
    )
    for cell in cells.iterator(chunk_size=5000):
        units = Decimal(cell.pop("units") or 0)
        yield Rollup(
            **{period: cell.pop("period")},
            **cell,
            units_micro=int((units * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP)),
        )


def backfill(apps, schema_editor):
    UsageEvent = apps.get_model("analytics", "UsageEvent")
    hourly = apps.get_model("analytics", "UsageRollup")
    daily = apps.get_model("analytics", "UsageDailyRollup")
    events = UsageEvent.objects.all()
    hour = Trunc("occurred_at", "hour", tzinfo=UTC)
    hourly.objects.bulk_create(_rows(events, "hour", hour, hourly), batch_size=2000)
    day = TruncDate("occurred_at", tzinfo=UTC)
    daily.objects.bulk_create(_rows(events, "day", day, daily), batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0003_usage_rollups")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
