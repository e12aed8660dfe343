from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from billing.money import format_credits
from yunxin.errors import NotFound


def request_account(request: Request):
    account = selectors.account_for_user(request.user)
    if account is None:  # a user without an account cannot exist, but never 500 on it
        raise NotFound("No account for this user.")
    return account


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    account_id = serializers.IntegerField()
    tier = serializers.CharField()
    priority = serializers.IntegerField()
    priority_label = serializers.CharField()
    rate_limit_per_minute = serializers.IntegerField(allow_null=True)
    webhooks_enabled = serializers.BooleanField()
    credit_balance = serializers.CharField(help_text="Credits as a decimal string.")


class MeView(APIView):
    @extend_schema(responses=MeOutput, operation_id="auth_me")
    def get(self, request: Request) -> Response:
        account = request_account(request)
        tier = account.tier_info
        data = {
            "id": request.user.pk,
            "email": request.user.email,
            "account_id": account.pk,
            "tier": account.tier,
            "priority": tier.priority,
            "priority_label": tier.priority_label,
            "rate_limit_per_minute": tier.rate_limit_per_minute,
            "webhooks_enabled": tier.webhooks,
            "credit_balance": format_credits(account.balance),
        }
        return Response(MeOutput(data).data)


class ApiKeyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(source="display_prefix")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField(source="is_active")


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.CharField(help_text="The full secret. Shown only in this response.")


class ApiKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class ApiKeyListView(APIView):
    @extend_schema(responses=ApiKeyOutput(many=True), operation_id="api_keys_list")
    def get(self, request: Request) -> Response:
        keys = selectors.api_key_list(account=request_account(request))
        return Response({"results": ApiKeyOutput(keys, many=True).data})

    @extend_schema(
        request=ApiKeyCreateInput,
        responses={201: ApiKeyCreatedOutput},
        operation_id="api_keys_create",
    )
    def post(self, request: Request) -> Response:
        data = ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        key, secret = services.api_key_create(
            account=request_account(request),
            name=data.validated_data["name"],
            created_by=request.user,
        )
        key.key = secret
        return Response(ApiKeyCreatedOutput(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    @extend_schema(responses=ApiKeyOutput, operation_id="api_keys_retrieve")
    def get(self, request: Request, key_id: int) -> Response:
        key = selectors.api_key_get(account=request_account(request), key_id=key_id)
        return Response(ApiKeyOutput(key).data)

    @extend_schema(responses=ApiKeyOutput, operation_id="api_keys_revoke")
    def delete(self, request: Request, key_id: int) -> Response:
        key = services.api_key_revoke(account=request_account(request), key_id=key_id)
        return Response(ApiKeyOutput(key).data)
