from __future__ import annotations

from decimal import Decimal, InvalidOperation

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import request_account
from accounts.authentication import MeteringService, ServiceTokenAuthentication
from billing import selectors
from billing.models import EntryKind
from billing.money import format_credits
from billing.services import metering, record_batch
from models_catalog.pricing import Usage
from yunxin import metrics
from yunxin.errors import DomainError, ValidationFailed, api_exception_handler

MAX_BATCH = 1000


class IsMeteringService(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, MeteringService)


class MeteringView(APIView):
    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [IsMeteringService]
    throttle_classes: list = []


class UnitsField(serializers.CharField):
    """A non-negative decimal string with at most 6 decimal places."""

    def to_internal_value(self, data) -> Decimal:
        try:
            value = Decimal(str(super().to_internal_value(data)).strip())
        except InvalidOperation as exc:
            raise serializers.ValidationError("Must be a decimal string.") from exc
        if not value.is_finite() or value < 0 or value.as_tuple().exponent < -6:
            raise serializers.ValidationError("Must be ≥ 0 with at most 6 decimal places.")
        return value

    def to_representation(self, value) -> str:
        return str(value)


def _count() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=10**12, default=0)


class AuthorizeInput(serializers.Serializer):
    request_id = serializers.CharField(max_length=200)
    api_key = serializers.CharField(max_length=200)
    model = serializers.CharField(max_length=120)
    max_input_tokens = _count()
    max_output_tokens = _count()
    units = UnitsField(required=False, default=Decimal(0))


class AuthorizeOutput(serializers.Serializer):
    request_id = serializers.CharField()
    reservation_id = serializers.CharField()
    reserved = serializers.CharField()
    priority = serializers.IntegerField()
    available = serializers.CharField()
    expires_at = serializers.DateTimeField()


class UsageInput(serializers.Serializer):
    input_tokens = _count()
    output_tokens = _count()
    reasoning_tokens = _count()
    cached_input_tokens = _count()
    units = UnitsField(required=False, default=Decimal(0))

    def usage(self) -> Usage:
        d = self.validated_data
        return Usage(
            input_tokens=d["input_tokens"],
            output_tokens=d["output_tokens"],
            reasoning_tokens=d["reasoning_tokens"],
            cached_input_tokens=d["cached_input_tokens"],
            units=d["units"],
        )


class SettleInput(UsageInput):
    reservation_id = serializers.UUIDField()


class RecordInput(UsageInput):
    request_id = serializers.CharField(max_length=200)
    api_key = serializers.CharField(max_length=200)
    model = serializers.CharField(max_length=120)
    occurred_at = serializers.DateTimeField(required=False)


class ChargeOutput(serializers.Serializer):
    request_id = serializers.CharField()
    cost = serializers.CharField()
    balance = serializers.CharField()


def _charge_body(charged: metering.Charged) -> dict:
    event = charged.event
    return {
        "request_id": event.request_id,
        "cost": format_credits(event.cost),
        "balance": format_credits(event.balance_after),
    }


def _priority_header(priority: int) -> dict[str, str]:
    return {"X-Request-Priority": str(priority)}


class AuthorizeView(MeteringView):
    @extend_schema(
        request=AuthorizeInput, responses=AuthorizeOutput, operation_id="metering_authorize"
    )
    def post(self, request: Request) -> Response:
        data = AuthorizeInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = metering.usage_authorize(**data.validated_data)
        r = result.reservation
        body = {
            "request_id": r.request_id,
            "reservation_id": str(r.id),
            "reserved": format_credits(r.reserved),
            "priority": r.priority,
            "available": format_credits(result.available),
            "expires_at": r.expires_at,
        }
        headers = _priority_header(r.priority) | result.ratelimit.headers()
        return Response(AuthorizeOutput(body).data, headers=headers)


class SettleView(MeteringView):
    @extend_schema(request=SettleInput, responses=ChargeOutput, operation_id="metering_settle")
    def post(self, request: Request) -> Response:
        data = SettleInput(data=request.data)
        data.is_valid(raise_exception=True)
        charged = metering.usage_settle(
            reservation_id=data.validated_data["reservation_id"], usage=data.usage()
        )
        metrics.credits_charged("settle", [charged])
        return Response(_charge_body(charged), headers=_priority_header(charged.event.priority))


def _record_one(payload) -> tuple[int, dict, dict]:
    """(status, body, headers) for one record item; errors answered, not raised."""
    data = RecordInput(data=payload)
    try:
        data.is_valid(raise_exception=True)
        d = data.validated_data
        charged = metering.usage_record(
            request_id=d["request_id"],
            api_key=d["api_key"],
            model=d["model"],
            usage=data.usage(),
            occurred_at=d.get("occurred_at"),
        )
    except (DomainError, serializers.ValidationError) as exc:
        response = api_exception_handler(exc, {})
        return response.status_code, response.data, dict(getattr(exc, "headers", {}))
    metrics.credits_charged("record", [charged])
    code = status.HTTP_200_OK if charged.replayed else status.HTTP_201_CREATED
    return code, _charge_body(charged), _priority_header(charged.event.priority)


class RecordView(MeteringView):
    @extend_schema(
        request=RecordInput, responses={201: ChargeOutput}, operation_id="metering_record"
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.data, dict) and "events" in request.data:
            return self._batch(request.data["events"])
        code, body, headers = _record_one(request.data)
        return Response(body, status=code, headers=headers)

    def _batch(self, events) -> Response:
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_BATCH:
            raise ValidationFailed(f"events must be a list of 1 to {MAX_BATCH} objects.")
        answers: list[dict | None] = [None] * len(events)
        items, positions = [], []
        for i, payload in enumerate(events):
            data = RecordInput(data=payload)
            if not data.is_valid():
                answers[i] = _error_answer(serializers.ValidationError(data.errors))
                continue
            d = data.validated_data
            items.append(
                record_batch.Item(
                    d["request_id"], d["api_key"], d["model"], data.usage(), d.get("occurred_at")
                )
            )
            positions.append(i)
        results = record_batch.usage_record_batch(items=items)
        metrics.credits_charged("record", [r for r in results if isinstance(r, metering.Charged)])
        for i, result in zip(positions, results, strict=True):
            if isinstance(result, DomainError):
                answers[i] = _error_answer(result)
            else:
                code = status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
                answers[i] = {"status": code, **_charge_body(result)}
        return Response({"results": answers})


def _error_answer(exc: Exception) -> dict:
    response = api_exception_handler(exc, {})
    return {"status": response.status_code, **response.data}


# --- credits (customer API) -------------------------------------------------------------


class LotOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.CharField()
    remaining = serializers.CharField()
    created_at = serializers.DateTimeField()
    refundable_until = serializers.DateTimeField(allow_null=True)


class CreditsOutput(serializers.Serializer):
    balance = serializers.CharField()
    held = serializers.CharField()
    available = serializers.CharField()
    lots = LotOutput(many=True)


class CreditsView(APIView):
    @extend_schema(responses=CreditsOutput, operation_id="credits_retrieve")
    def get(self, request: Request) -> Response:
        account = request_account(request)
        lots = [
            {
                "id": lot.pk,
                "kind": lot.kind,
                "amount": format_credits(lot.amount),
                "remaining": format_credits(lot.remaining),
                "created_at": lot.created_at,
                "refundable_until": selectors.lot_refundable_until(lot),
            }
            for lot in selectors.lot_list(account=account)
        ]
        body = {
            "balance": format_credits(account.balance),
            "held": format_credits(account.held),
            "available": format_credits(account.available),
            "lots": lots,
        }
        return Response(CreditsOutput(body).data)


class LedgerEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.SerializerMethodField()
    balance_after = serializers.SerializerMethodField()
    reference = serializers.CharField()
    memo = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_amount(self, entry) -> str:
        return format_credits(entry.amount)

    def get_balance_after(self, entry) -> str:
        return format_credits(entry.balance_after)


class LedgerPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class LedgerFilter(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EntryKind.choices, required=False)
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError("start must be before end.")
        return attrs


class LedgerView(APIView):
    @extend_schema(
        parameters=[
            LedgerFilter,
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=LedgerEntryOutput(many=True),
        operation_id="credits_ledger_list",
    )
    def get(self, request: Request) -> Response:
        filters = LedgerFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = selectors.ledger_list(account=request_account(request), **filters.validated_data)
        paginator = LedgerPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(LedgerEntryOutput(page, many=True).data)
