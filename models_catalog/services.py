"""Tier gating and rate changes. Everything that gates a model calls `model_access_check`."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from accounts.models import Account, User
from accounts.tiers import TIERS, tier_at_least
from models_catalog.models import AIModel, Rate, Unit
from yunxin.errors import DomainError, ValidationFailed


class ModelTierRestricted(DomainError):
    code = "model_tier_restricted"
    status_code = status.HTTP_403_FORBIDDEN


def model_accessible(*, tier: str, model: AIModel) -> bool:
    return tier_at_least(tier, model.required_tier)


def model_access_check(*, account: Account, model: AIModel) -> None:
    if model_accessible(tier=account.tier, model=model):
        return
    required = TIERS[model.required_tier].label
    why = " (experimental models are Enterprise only)" if model.experimental else ""
    raise ModelTierRestricted(
        f"{model.slug} requires the {required} tier or higher{why}; "
        f"your account is on the {account.tier_info.label} tier.",
        required_tier=model.required_tier,
        current_tier=account.tier,
    )


def _price(value: Decimal | str | None, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    price = Decimal(str(value))
    if not price.is_finite() or price < 0:
        raise ValidationFailed(f"{name} must be a non-negative number.")
    if price.as_tuple().exponent < -6:
        raise ValidationFailed(f"{name} has at most 6 decimal places.")
    return price


@transaction.atomic
def rate_add(
    *,
    model: AIModel,
    effective_from: datetime | None = None,
    input_per_mtok: Decimal | str | None = None,
    output_per_mtok: Decimal | str | None = None,
    reasoning_per_mtok: Decimal | str | None = None,
    cached_input_per_mtok: Decimal | str | None = None,
    unit_price: Decimal | str | None = None,
    unit: str = "",
    actor: User | None = None,
    allow_past: bool = False,
) -> Rate:
    """Add a rate change. Past moments are never repriced: `effective_from` may not be in
    the past (except for a model's very first rate, or when loading history explicitly)."""
    now = timezone.now()
    effective_from = effective_from or now
    if effective_from < now - timedelta(seconds=5) and not allow_past:
        if model.rates.exists():
            raise ValidationFailed("A rate change cannot take effect in the past.")
    prices = {
        "input_per_mtok": _price(input_per_mtok, "input price"),
        "output_per_mtok": _price(output_per_mtok, "output price"),
        "reasoning_per_mtok": _price(reasoning_per_mtok, "reasoning price"),
        "cached_input_per_mtok": _price(cached_input_per_mtok, "cached-input price"),
        "unit_price": _price(unit_price, "unit price"),
    }
    if model.is_text:
        if prices["input_per_mtok"] is None or prices["output_per_mtok"] is None:
            raise ValidationFailed("A text model needs input and output prices per 1M tokens.")
        if prices["unit_price"] is not None:
            raise ValidationFailed("A text model is priced per token, not per unit.")
        unit = ""
    else:
        if prices["unit_price"] is None or unit not in Unit.values:
            raise ValidationFailed("This modality needs a unit price and its unit.")
        if any(prices[k] is not None for k in prices if k != "unit_price"):
            raise ValidationFailed("This modality is priced per unit, not per token.")
    try:
        with transaction.atomic():
            return Rate.objects.create(
                model=model, effective_from=effective_from, unit=unit, created_by=actor, **prices
            )
    except IntegrityError as exc:
        raise ValidationFailed("This model already has a rate starting at that moment.") from exc
