from __future__ import annotations

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import request_account
from analytics import params, selectors
from analytics.selectors import UsageQuery, UsageRow, UsageSums
from analytics.services import format_units
from analytics.timeranges import HOUR
from billing.money import format_credits


def _price(value) -> str | None:
    return None if value is None else str(value)


class UsageEventOutput(serializers.Serializer):
    request_id = serializers.CharField()
    source = serializers.CharField()
    model = serializers.CharField()
    api_key = serializers.CharField(allow_null=True)
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    cached_input_tokens = serializers.IntegerField()
    units = serializers.CharField()
    cost = serializers.CharField()
    priority = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    rate = serializers.DictField(help_text="The prices this request was charged at.")


class UsageEventView(APIView):
    @extend_schema(responses=UsageEventOutput, operation_id="usage_event_retrieve")
    def get(self, request: Request, request_id: str) -> Response:
        event = selectors.usage_event_get(account=request_account(request), request_id=request_id)
        rate = event.rate
        body = {
            "request_id": event.request_id,
            "source": event.source,
            "model": event.model.slug,
            "api_key": event.api_key.display_prefix if event.api_key else None,
            "input_tokens": event.input_tokens,
            "output_tokens": event.output_tokens,
            "reasoning_tokens": event.reasoning_tokens,
            "cached_input_tokens": event.cached_input_tokens,
            "units": str(event.units),
            "cost": format_credits(event.cost),
            "priority": event.priority,
            "occurred_at": event.occurred_at,
            "rate": {
                "effective_from": rate.effective_from.isoformat(),
                "input_per_mtok": _price(rate.input_per_mtok),
                "output_per_mtok": _price(rate.output_per_mtok),
                "reasoning_per_mtok": _price(rate.reasoning_per_mtok),
                "cached_input_per_mtok": _price(rate.cached_input_per_mtok),
                "unit_price": _price(rate.unit_price),
                "unit": rate.unit or None,
            },
        }
        return Response(UsageEventOutput(body).data)


# --- usage over a range ------------------------------------------------------------------

METRIC_FIELDS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cached_input_tokens",
    "units",
    "cost",
)
KEY_FIELDS = {
    "day": ("day",),
    "hour": ("hour",),
    "model": ("model",),
    "api_key": ("api_key", "api_key_id", "api_key_name"),
}


def sums_values(sums: UsageSums) -> dict:
    return {
        "requests": sums.requests,
        "input_tokens": sums.input_tokens,
        "output_tokens": sums.output_tokens,
        "reasoning_tokens": sums.reasoning_tokens,
        "cached_input_tokens": sums.cached_input_tokens,
        "units": format_units(sums.units_micro),
        "cost": format_credits(sums.cost),
    }


def row_values(row: UsageRow, q: UsageQuery) -> dict:
    """One result row: its group keys (in the order asked), then the sums."""
    out: dict = {}
    for group in q.group_by:
        if group == "day":
            out["day"] = row.day.isoformat()
        elif group == "hour":
            out["hour"] = row.hour.astimezone(q.tz).isoformat()
        elif group == "model":
            out["model"] = row.model.slug
        else:
            key = row.api_key
            out["api_key"] = key.display_prefix if key else None
            out["api_key_id"] = key.pk if key else None
            out["api_key_name"] = key.name if key else None
    return out | sums_values(row.sums)


USAGE_PARAMETERS = [
    OpenApiParameter(
        "start",
        str,
        description="Start (inclusive): a date (local midnight in `tz`) or an ISO 8601 "
        "datetime on the hour. Default: the last 30 days including today.",
    ),
    OpenApiParameter(
        "end", str, description="End (exclusive), like `start`. Default: now. At most 366 days."
    ),
    OpenApiParameter("tz", str, description="IANA time zone for days and hours. Default UTC."),
    OpenApiParameter(
        "group_by",
        str,
        description="Comma-separated, any of day, hour, model, api_key (not day and hour).",
    ),
    OpenApiParameter("model", str, description="Only these model slugs (comma-separated)."),
    OpenApiParameter(
        "api_key", str, description="Only these keys, by id or prefix `yx_…` (comma-separated)."
    ),
    OpenApiParameter("cursor", str, description="The `next` of the previous page."),
    OpenApiParameter("page_size", int, description="Rows per page, 1-1000 (default 100)."),
]


class UsageSumsOutput(serializers.Serializer):
    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    cached_input_tokens = serializers.IntegerField()
    units = serializers.CharField(help_text="Decimal string.")
    cost = serializers.CharField(help_text="Credits as a decimal string.")


class UsageRowOutput(UsageSumsOutput):
    day = serializers.DateField(required=False, help_text="With group_by=day, in `tz`.")
    hour = serializers.DateTimeField(required=False, help_text="With group_by=hour, in `tz`.")
    model = serializers.CharField(required=False, help_text="With group_by=model: its slug.")
    api_key = serializers.CharField(
        required=False, allow_null=True, help_text="With group_by=api_key: its prefix."
    )
    api_key_id = serializers.IntegerField(required=False, allow_null=True)
    api_key_name = serializers.CharField(required=False, allow_null=True)


class UsageOutput(serializers.Serializer):
    results = UsageRowOutput(many=True)
    totals = UsageSumsOutput(help_text="Over the whole range and filters, not just this page.")
    next = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for more rows.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    tz = serializers.CharField()


class UsageView(APIView):
    @extend_schema(parameters=USAGE_PARAMETERS, responses=UsageOutput, operation_id="usage_list")
    def get(self, request: Request) -> Response:
        q = params.usage_query(request.query_params, request_account(request))
        page = params.parse_page(request.query_params, q)
        rows = selectors.usage_rows(q, offset=page.offset, limit=page.size + 1)
        more = len(rows) > page.size
        if page.offset or more:
            totals = selectors.usage_totals(q)
        else:  # this page holds every row: they add up to the totals
            totals = UsageSums()
            for row in rows:
                totals.add(row.sums)
        body = {
            "results": [row_values(row, q) for row in rows[: page.size]],
            "totals": sums_values(totals),
            "next": params.cursor_for(q, page.offset + page.size) if more else None,
            "start": q.start.astimezone(q.tz).isoformat(),
            "end": q.end.astimezone(q.tz).isoformat(),
            "tz": q.tz.key,
        }
        return Response(body)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> object:
    # A customer-chosen name starting like a formula must not run in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value


def usage_csv_lines(q: UsageQuery) -> Iterator[str]:
    writer = csv.writer(_Echo())
    header = [name for group in q.group_by for name in KEY_FIELDS[group]]
    yield writer.writerow([*header, *METRIC_FIELDS])
    for row in selectors.usage_rows_all(q):
        values = row_values(row, q)
        yield writer.writerow([_cell(values[name]) for name in (*header, *METRIC_FIELDS)])


def usage_csv_response(q: UsageQuery) -> StreamingHttpResponse:
    first = q.start.astimezone(q.tz).date()
    last = (q.end - HOUR).astimezone(q.tz).date()
    response = StreamingHttpResponse(usage_csv_lines(q), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="yunxin-usage-{first}-to-{last}.csv"'
    return response


class UsageExportView(APIView):
    @extend_schema(
        parameters=USAGE_PARAMETERS[:6],
        responses={(200, "text/csv"): str},
        operation_id="usage_export_csv",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        """The rows of GET /api/usage (all of them, no pages) as CSV."""
        return usage_csv_response(
            params.usage_query(request.query_params, request_account(request))
        )
