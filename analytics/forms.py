"""The Analytics page's filters, read from the query string so a view can be shared and
reloaded. Like the Models page, an unknown value is dropped rather than failing the page;
an impossible custom range is said next to the dates and the default range is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms

from accounts.models import Account
from analytics.selectors import UsageQuery
from analytics.timeranges import (
    DAY,
    DEFAULT_PRESET,
    HOUR,
    MAX_RANGE,
    PRESETS,
    day_start,
    preset_range,
    zone,
)
from models_catalog.models import AIModel

CUSTOM = "custom"
RANGE_CHOICES = [*((p.slug, p.label) for p in PRESETS.values()), (CUSTOM, "Custom range")]
HOURLY_UP_TO = timedelta(hours=48)


@dataclass(frozen=True)
class Selection:
    """What the page shows: the query, its time buckets, and how to say and share it."""

    query: UsageQuery
    bucket: str  # "hour" or "day"
    range: str  # a preset slug or "custom"
    first_day: date  # the range's local days, inclusive (for the date inputs)
    last_day: date
    model_slug: str
    query_string: str


class AnalyticsFilterForm(forms.Form):
    range = forms.ChoiceField(required=False, choices=RANGE_CHOICES)
    start = forms.DateField(required=False, label="From")
    end = forms.DateField(required=False, label="To")
    api_key = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    model = forms.CharField(required=False, max_length=120)
    tz = forms.CharField(required=False, max_length=64)

    def __init__(self, data, *, account: Account) -> None:
        super().__init__(data)
        self.account = account
        self.keys = list(account.api_keys.order_by("revoked_at", "name", "id"))
        self.fields["api_key"].choices = [("", "All keys"), *((k.pk, k.name) for k in self.keys)]

    def _value(self, name: str):
        self.is_valid()  # cleaned_data then holds the fields that are valid
        return self.cleaned_data.get(name)

    def _custom_range(self, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
        first, last = self._value("start"), self._value("end")
        if first is None or last is None:
            self.add_error(None, "Choose both dates of the custom range.")
        elif last < first:
            self.add_error(None, "The custom range ends before it starts.")
        elif last - first >= timedelta(days=MAX_RANGE.days):
            self.add_error(None, f"A custom range spans at most {MAX_RANGE.days} days.")
        else:
            return day_start(first, tz), day_start(last + DAY, tz)
        return None

    def selection(self, now: datetime) -> Selection:
        tz_name = (self._value("tz") or "").strip()
        tz = zone(tz_name) or ZoneInfo("UTC")
        chosen = self._value("range") or DEFAULT_PRESET
        bounds = self._custom_range(tz) if chosen == CUSTOM else None
        if bounds is None:
            chosen = chosen if chosen in PRESETS else DEFAULT_PRESET
            bounds = preset_range(chosen, tz, now)
        start, end = bounds
        key_id = self._value("api_key")
        slug = (self._value("model") or "").strip()
        model_id = slug and AIModel.objects.filter(slug=slug).values_list("pk", flat=True).first()
        query = UsageQuery(
            account=self.account,
            start=start,
            end=end,
            tz=tz,
            model_ids=(model_id,) if model_id else (),
            api_key_ids=(key_id,) if key_id else (),
        )
        first_day, last_day = start.astimezone(tz).date(), (end - HOUR).astimezone(tz).date()
        params = {
            "range": "" if chosen == DEFAULT_PRESET else chosen,
            "start": first_day.isoformat() if chosen == CUSTOM else "",
            "end": last_day.isoformat() if chosen == CUSTOM else "",
            "api_key": key_id or "",
            "model": slug if model_id else "",
            "tz": tz.key if tz.key != "UTC" else "",
        }
        return Selection(
            query=query,
            bucket="hour" if end - start <= HOURLY_UP_TO else "day",
            range=chosen,
            first_day=first_day,
            last_day=last_day,
            model_slug=params["model"],
            query_string=urlencode({k: v for k, v in params.items() if v}),
        )
