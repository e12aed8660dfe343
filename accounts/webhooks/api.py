"""REST API for webhooks. Free and Basic accounts get 403 `tier_feature_unavailable`;
another account's endpoint or delivery is 404 `not_found`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import request_account
from accounts.models import Account
from accounts.webhooks import selectors, services
from accounts.webhooks.events import SUBSCRIBABLE
from accounts.webhooks.models import DeliveryStatus
from billing.money import format_credits, parse_credits


def webhooks_account(request: Request) -> Account:
    account = request_account(request)
    services.require_webhooks(account)
    return account


class EndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=["active", "disabled", "paused"])
    disabled_reason = serializers.CharField(help_text="customer, gone, failing or empty.")
    disabled_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then the secret before the last rotation also signs."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EndpointListOutput(serializers.Serializer):
    results = EndpointOutput(many=True)


class EndpointCreatedOutput(EndpointOutput):
    secret = serializers.CharField(help_text="The signing secret (whsec_…).")


class SecretOutput(serializers.Serializer):
    secret = serializers.CharField(help_text="The signing secret (whsec_…).")
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)


def _event_types_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE), allow_empty=False, **kwargs
    )


class EndpointCreateInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    event_types = _event_types_field()
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class EndpointUpdateInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False)
    event_types = _event_types_field(required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    enabled = serializers.BooleanField(
        required=False, help_text="false disables the endpoint; true enables it again."
    )


class AttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    succeeded = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True, help_text="null: no HTTP answer.")
    latency_ms = serializers.IntegerField()
    response_excerpt = serializers.CharField()
    error = serializers.CharField()


class DeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint_id = serializers.IntegerField()
    event_id = serializers.CharField(help_text="Also the webhook-id header.")
    event_type = serializers.CharField(source="event.type")
    status = serializers.ChoiceField(choices=DeliveryStatus.values)
    attempt_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    payload = serializers.CharField(source="event.payload", help_text="The exact JSON body.")
    attempts = AttemptOutput(many=True, source="attempts.all")


class DeliveryListOutput(serializers.Serializer):
    results = DeliveryOutput(many=True)
    next = serializers.IntegerField(allow_null=True, help_text="Pass as `before` for more.")


class DeliveryListInput(serializers.Serializer):
    endpoint = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=DeliveryStatus.values, required=False)
    before = serializers.IntegerField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)


class CreditsField(serializers.CharField):
    """Credits as a decimal string, to micro-credits."""

    def to_internal_value(self, data) -> int:
        try:
            return parse_credits(super().to_internal_value(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class SettingsIO(serializers.Serializer):
    low_balance_threshold = CreditsField(
        allow_null=True,
        help_text="Credits (decimal string): `credits.low_balance` fires when a charge takes "
        "the available balance below it. null: off.",
    )


def _settings_body(account: Account) -> dict:
    threshold = account.webhook_low_balance_threshold
    return {"low_balance_threshold": None if threshold is None else format_credits(threshold)}


class EndpointListView(APIView):
    @extend_schema(responses=EndpointListOutput, operation_id="webhook_endpoints_list")
    def get(self, request: Request) -> Response:
        endpoints = selectors.webhook_endpoint_list(account=webhooks_account(request))
        return Response({"results": EndpointOutput(endpoints, many=True).data})

    @extend_schema(
        request=EndpointCreateInput,
        responses={201: EndpointCreatedOutput},
        operation_id="webhook_endpoints_create",
    )
    def post(self, request: Request) -> Response:
        account = webhooks_account(request)
        data = EndpointCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(account=account, **data.validated_data)
        return Response(EndpointCreatedOutput(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailView(APIView):
    @extend_schema(responses=EndpointOutput, operation_id="webhook_endpoints_retrieve")
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.webhook_endpoint_get(
            account=webhooks_account(request), endpoint_id=endpoint_id
        )
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(
        request=EndpointUpdateInput,
        responses=EndpointOutput,
        operation_id="webhook_endpoints_update",
    )
    def patch(self, request: Request, endpoint_id: int) -> Response:
        account = webhooks_account(request)
        data = EndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(
            account=account, endpoint_id=endpoint_id, **data.validated_data
        )
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(responses={204: None}, operation_id="webhook_endpoints_delete")
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.webhook_endpoint_delete(account=webhooks_account(request), endpoint_id=endpoint_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointSecretView(APIView):
    @extend_schema(responses=SecretOutput, operation_id="webhook_endpoints_secret")
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.webhook_endpoint_get(
            account=webhooks_account(request), endpoint_id=endpoint_id
        )
        response = Response(SecretOutput(endpoint).data)
        response["Cache-Control"] = "no-store"
        return response


class EndpointRotateSecretView(APIView):
    @extend_schema(request=None, responses=SecretOutput, operation_id="webhook_endpoints_rotate")
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = services.webhook_endpoint_rotate_secret(
            account=webhooks_account(request), endpoint_id=endpoint_id
        )
        response = Response(SecretOutput(endpoint).data)
        response["Cache-Control"] = "no-store"
        return response


class EndpointTestView(APIView):
    @extend_schema(
        request=None, responses={202: DeliveryOutput}, operation_id="webhook_endpoints_test"
    )
    def post(self, request: Request, endpoint_id: int) -> Response:
        item = services.webhook_endpoint_send_test(
            account=webhooks_account(request), endpoint_id=endpoint_id
        )
        return Response(DeliveryOutput(item).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("endpoint", int, description="Only this endpoint's deliveries."),
            OpenApiParameter("status", str, enum=DeliveryStatus.values),
            OpenApiParameter("before", int, description="The `next` of the previous page."),
            OpenApiParameter("limit", int, description="1-100, default 50."),
        ],
        responses=DeliveryListOutput,
        operation_id="webhook_deliveries_list",
    )
    def get(self, request: Request) -> Response:
        account = webhooks_account(request)
        query = DeliveryListInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        args = query.validated_data
        deliveries = selectors.webhook_delivery_list(
            account=account,
            endpoint_id=args.get("endpoint"),
            status=args.get("status"),
            before=args.get("before"),
            limit=args["limit"],
        )
        more = len(deliveries) == args["limit"]
        return Response(
            {
                "results": DeliveryOutput(deliveries, many=True).data,
                "next": deliveries[-1].pk if more else None,
            }
        )


class DeliveryRedeliverView(APIView):
    @extend_schema(
        request=None, responses={202: DeliveryOutput}, operation_id="webhook_deliveries_redeliver"
    )
    def post(self, request: Request, delivery_id: int) -> Response:
        item = services.webhook_delivery_redeliver(
            account=webhooks_account(request), delivery_id=delivery_id
        )
        return Response(DeliveryOutput(item).data, status=status.HTTP_202_ACCEPTED)


class SettingsView(APIView):
    @extend_schema(responses=SettingsIO, operation_id="webhook_settings_retrieve")
    def get(self, request: Request) -> Response:
        return Response(_settings_body(webhooks_account(request)))

    @extend_schema(request=SettingsIO, responses=SettingsIO, operation_id="webhook_settings_update")
    def patch(self, request: Request) -> Response:
        account = webhooks_account(request)
        data = SettingsIO(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.webhook_settings_update(
            account=account, low_balance_threshold=data.validated_data["low_balance_threshold"]
        )
        return Response(_settings_body(account))
