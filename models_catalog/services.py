"""Tier gating, rate changes and catalogue writes.

Everything that gates a model calls `model_access_check` (or `model_accessible`, or
`accessible_models_q` for a database filter, which is derived from `model_accessible`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from accounts.models import Account, User
from accounts.tiers import TIERS, tier_at_least
from models_catalog.models import AIModel, Provider, Rate, Unit
from yunxin.errors import DomainError, ValidationFailed

# A rate change "now" typed into a form reaches the server a moment later.
PAST_TOLERANCE = timedelta(seconds=5)
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


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


def _gating_combinations() -> list[tuple[str, bool]]:
    return [(min_tier, experimental) for min_tier in TIERS for experimental in (False, True)]


def accessible_models_q(*, tier: str) -> Q:
    """A database filter for the models `tier` may use. Built by asking `model_accessible`
    about every (min_tier, experimental) combination, so it cannot disagree with it."""
    allowed = Q(pk__in=[])
    for min_tier, experimental in _gating_combinations():
        if model_accessible(tier=tier, model=AIModel(min_tier=min_tier, experimental=experimental)):
            allowed |= Q(min_tier=min_tier, experimental=experimental)
    return allowed


def required_tier_q(*, tier: str) -> Q:
    """A database filter for the models whose required tier is exactly `tier`."""
    matching = Q(pk__in=[])
    for min_tier, experimental in _gating_combinations():
        if AIModel(min_tier=min_tier, experimental=experimental).required_tier == tier:
            matching |= Q(min_tier=min_tier, experimental=experimental)
    return matching


def _price(value: Decimal | str | None, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationFailed(f"{name} must be a number.") from exc
    if not price.is_finite() or price < 0:
        raise ValidationFailed(f"{name} must be a non-negative number.")
    if price.as_tuple().exponent < -6:
        raise ValidationFailed(f"{name} has at most 6 decimal places.")
    if price >= Decimal(10) ** 12:
        raise ValidationFailed(f"{name} is too large.")
    return price


def rate_validate(
    *,
    model: AIModel,
    effective_from: datetime,
    input_per_mtok: Decimal | str | None = None,
    output_per_mtok: Decimal | str | None = None,
    reasoning_per_mtok: Decimal | str | None = None,
    cached_input_per_mtok: Decimal | str | None = None,
    unit_price: Decimal | str | None = None,
    unit: str = "",
    allow_past: bool = False,
) -> dict:
    """The fields of a valid rate change, or ValidationFailed. Writes nothing, so forms can
    show the problem before anything is saved; `rate_add` calls it again when writing."""
    has_rates = model.pk is not None and model.rates.exists()
    if effective_from < timezone.now() - PAST_TOLERANCE and not allow_past and has_rates:
        raise ValidationFailed("A rate change cannot take effect in the past.")
    if has_rates and model.rates.filter(effective_from=effective_from).exists():
        raise ValidationFailed("This model already has a rate starting at that moment.")
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
    return {**prices, "unit": unit}


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
    effective_from = effective_from or timezone.now()
    fields = rate_validate(
        model=model,
        effective_from=effective_from,
        input_per_mtok=input_per_mtok,
        output_per_mtok=output_per_mtok,
        reasoning_per_mtok=reasoning_per_mtok,
        cached_input_per_mtok=cached_input_per_mtok,
        unit_price=unit_price,
        unit=unit,
        allow_past=allow_past,
    )
    try:
        with transaction.atomic():
            return Rate.objects.create(
                model=model, effective_from=effective_from, created_by=actor, **fields
            )
    except IntegrityError as exc:
        raise ValidationFailed("This model already has a rate starting at that moment.") from exc


@transaction.atomic
def rate_cancel(*, rate_id: int) -> Rate | None:
    """Withdraw a scheduled rate change. A rate that has taken effect is never removed:
    usage may have been charged at it. Returns the removed rate (None if already gone)."""
    rate = Rate.objects.select_for_update().filter(pk=rate_id).first()
    if rate is None:
        return None
    if rate.has_taken_effect():
        raise ValidationFailed(
            f"The rate from {rate.effective_from:%Y-%m-%d %H:%M} UTC has already taken effect "
            "and cannot be removed."
        )
    rate.delete()
    return rate


def models_set_active(*, model_ids: Iterable[int], active: bool) -> list[AIModel]:
    """Activate or deactivate models; returns the ones that actually changed."""
    with transaction.atomic():
        changing = list(
            AIModel.objects.select_for_update()
            .filter(pk__in=list(model_ids))
            .exclude(active=active)
        )
        AIModel.objects.filter(pk__in=[m.pk for m in changing]).update(active=active)
    for model in changing:
        model.active = active
    return changing


def model_slug_validate(*, slug: str, provider: Provider) -> None:
    prefix, _, name = (slug or "").partition("/")
    if prefix != provider.slug or not MODEL_NAME_RE.match(name):
        raise ValidationFailed(
            f"A model slug is the provider's slug, a slash and a name: {provider.slug}/name "
            "(letters, digits, '.', '_', ':' or '-')."
        )


@transaction.atomic
def provider_upsert(*, slug: str, name: str, website: str = "") -> Provider:
    provider, _ = Provider.objects.update_or_create(
        slug=slug, defaults={"name": name, "website": website}
    )
    return provider


@transaction.atomic
def model_upsert(*, slug: str, provider: Provider, **fields) -> AIModel:
    """Create a model or bring it in line with `fields` (catalogue loads)."""
    model_slug_validate(slug=slug, provider=provider)
    model, _ = AIModel.objects.update_or_create(
        slug=slug, defaults={"provider": provider, **fields}
    )
    return model
