"""The catalogue on the API: `/api/models` (public, says what the caller may use) and the
OpenAI-compatible `/v1/models` (a key's usable models, in OpenAI's list shape)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from accounts.models import Account, ApiKey
from accounts.selectors import account_for_user
from accounts.tiers import TierName
from models_catalog import selectors, services
from models_catalog.models import AIModel, Modality, Rate, SizeClass


def caller_account(request: Request) -> Account | None:
    """The account of the key or session behind a request; None when anonymous."""
    if isinstance(request.auth, ApiKey):
        return request.auth.account
    return account_for_user(request.user)


def _price_field() -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=18, decimal_places=6, allow_null=True, help_text="Credits, decimal string."
    )


class PricingOutput(serializers.Serializer):
    effective_from = serializers.DateTimeField()
    input_per_mtok = _price_field()
    output_per_mtok = _price_field()
    reasoning_per_mtok = _price_field()
    cached_input_per_mtok = _price_field()
    unit_price = _price_field()
    unit = serializers.SerializerMethodField(
        help_text="What unit_price is per (image, second, asset, track); null for tokens."
    )

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_unit(self, rate: Rate) -> str | None:
        return rate.unit or None


class ProviderOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class ModelOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField(source="display_name")
    provider = ProviderOutput()
    modality = serializers.ChoiceField(choices=Modality.choices)
    context_length = serializers.IntegerField(allow_null=True)
    size_class = serializers.ChoiceField(choices=SizeClass.choices)
    min_tier = serializers.ChoiceField(
        choices=TierName.choices,
        source="required_tier",
        help_text="The lowest tier that may use the model (enterprise for experimental ones).",
    )
    experimental = serializers.BooleanField()
    description = serializers.CharField()
    accessible = serializers.BooleanField(
        allow_null=True, help_text="Whether the caller may use it; null for anonymous callers."
    )
    pricing = PricingOutput(source="current_rate", allow_null=True)
    scheduled_pricing = PricingOutput(
        source="next_rate", allow_null=True, help_text="The next scheduled price change, if any."
    )


class ModelListOutput(serializers.Serializer):
    results = ModelOutput(many=True)


def _mark_accessible(models: list[AIModel], account: Account | None) -> list[AIModel]:
    for model in models:
        model.accessible = (
            None if account is None else services.model_accessible(tier=account.tier, model=model)
        )
    return models


class ModelListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ModelListOutput, operation_id="models_list", tags=["models"])
    def get(self, request: Request) -> Response:
        models = _mark_accessible(selectors.model_list(), caller_account(request))
        return Response(ModelListOutput({"results": models}).data)


class ModelDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ModelOutput, operation_id="models_retrieve", tags=["models"])
    def get(self, request: Request, slug: str) -> Response:
        model = selectors.model_with_rates(slug=slug)
        _mark_accessible([model], caller_account(request))
        return Response(ModelOutput(model).data)


class OpenAIModelOutput(serializers.Serializer):
    id = serializers.CharField(source="slug")
    object = serializers.SerializerMethodField()
    created = serializers.SerializerMethodField(help_text="Unix time the model was added.")
    owned_by = serializers.CharField(source="provider.slug")

    def get_object(self, model: AIModel) -> str:
        return "model"

    def get_created(self, model: AIModel) -> int:
        return int(model.created_at.timestamp())


class OpenAIModelListOutput(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = OpenAIModelOutput(many=True)


class OpenAIModelListView(APIView):
    """OpenAI-compatible: the models the caller's key may use."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenAIModelListOutput, operation_id="v1_models_list", tags=["v1"])
    def get(self, request: Request) -> Response:
        models = selectors.models_accessible(tier=request.auth.account.tier)
        return Response(OpenAIModelListOutput({"object": "list", "data": models}).data)


class OpenAIModelDetailView(APIView):
    """OpenAI-compatible: one model, 403 `model_tier_restricted` above the key's tier."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenAIModelOutput, operation_id="v1_models_retrieve", tags=["v1"])
    def get(self, request: Request, slug: str) -> Response:
        model = selectors.model_get(slug=slug)
        services.model_access_check(account=request.auth.account, model=model)
        return Response(OpenAIModelOutput(model).data)
