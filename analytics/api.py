from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import request_account
from analytics import selectors
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
