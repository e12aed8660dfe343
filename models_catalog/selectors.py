"""Reads of the catalogue. The catalogue is public; access is decided by services.

Listing reads run a fixed number of queries whatever the size of the catalogue: the
current and next rate of every model are found by subqueries in the one model query, then
fetched together in a second query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import (
    Case,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from models_catalog.models import TEXT_MODALITIES, AIModel, Provider, Rate
from models_catalog.services import accessible_models_q, required_tier_q
from yunxin.errors import NotFound

SORTS = {
    "name": "Name",
    "price": "Price: low to high",
    "-price": "Price: high to low",
}


@dataclass(frozen=True)
class CatalogueFilters:
    """What a customer narrows the catalogue by. Empty strings mean "any"."""

    search: str = ""
    provider: str = ""  # provider slug
    modality: str = ""
    tier: str = ""  # the tier a model requires
    accessible_to: str = ""  # a tier: only the models it may use
    sort: str = "name"


@dataclass
class RateTimeline:
    current: Rate | None
    scheduled: list[Rate] = field(default_factory=list)  # soonest first
    history: list[Rate] = field(default_factory=list)  # taken effect, newest first


def listed_models() -> QuerySet[AIModel]:
    """Models customers can see and call: active, from an active provider."""
    return AIModel.objects.filter(active=True, provider__active=True)


def model_get(*, slug: str) -> AIModel:
    """A listed model by slug, or NotFound."""
    model = listed_models().select_related("provider").filter(slug=slug).first()
    if model is None:
        raise NotFound(f"No model named {slug!r}.")
    return model


def rate_in_force(*, model_id: int, at: datetime | None = None) -> Rate | None:
    """The latest rate that has taken effect at `at` (default now)."""
    return (
        Rate.objects.filter(model_id=model_id, effective_from__lte=at or timezone.now())
        .order_by("-effective_from")
        .first()
    )


def in_force_subquery(at: datetime) -> QuerySet[Rate]:
    """Rates of the outer model that have taken effect at `at`, latest first."""
    return Rate.objects.filter(model=OuterRef("pk"), effective_from__lte=at).order_by(
        "-effective_from"
    )


def _scheduled(at: datetime) -> QuerySet[Rate]:
    return Rate.objects.filter(model=OuterRef("pk"), effective_from__gt=at).order_by(
        "effective_from"
    )


def _with_rate_ids(models: QuerySet[AIModel], at: datetime) -> QuerySet[AIModel]:
    return models.annotate(
        current_rate_id=Subquery(in_force_subquery(at).values("pk")[:1]),
        next_rate_id=Subquery(_scheduled(at).values("pk")[:1]),
    )


def _attach_rates(found: list[AIModel], models: QuerySet[AIModel]) -> list[AIModel]:
    """Sets `current_rate` and `next_rate` (or None) on each of `found`, the rows of
    `models`, in one query: the rate ids come from `models` as a subquery rather than as a
    parameter list, which databases cap (SQLite would split a long list into batches)."""
    if not found:
        return found
    ids = models.order_by()
    rates = Rate.objects.filter(
        Q(pk__in=ids.values("current_rate_id")) | Q(pk__in=ids.values("next_rate_id"))
    ).in_bulk()
    for model in found:
        model.current_rate = rates.get(model.current_rate_id)
        model.next_rate = rates.get(model.next_rate_id)
    return found


def _filtered(models: QuerySet[AIModel], filters: CatalogueFilters) -> QuerySet[AIModel]:
    if filters.search:
        term = filters.search
        models = models.filter(
            Q(display_name__icontains=term)
            | Q(slug__icontains=term)
            | Q(provider__name__icontains=term)
        )
    if filters.provider:
        models = models.filter(provider__slug=filters.provider)
    if filters.modality:
        models = models.filter(modality=filters.modality)
    if filters.tier:
        models = models.filter(required_tier_q(tier=filters.tier))
    if filters.accessible_to:
        models = models.filter(accessible_models_q(tier=filters.accessible_to))
    return models


def _ordered(models: QuerySet[AIModel], sort: str, at: datetime) -> QuerySet[AIModel]:
    """Price order: text models by input + output credits per 1M tokens, then per-unit
    models by their unit price (the two are different units, so they never interleave).
    Models without a price in force come last."""
    if sort not in ("price", "-price"):
        return models.order_by("display_name", "slug")
    price = Coalesce(F("unit_price"), F("input_per_mtok") + F("output_per_mtok"))
    models = models.annotate(
        price_group=Case(
            When(modality__in=TEXT_MODALITIES, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
        price_key=Subquery(
            in_force_subquery(at).annotate(key=price).values("key")[:1],
            output_field=DecimalField(max_digits=19, decimal_places=6),
        ),
    )
    key = (
        F("price_key").desc(nulls_last=True)
        if sort == "-price"
        else F("price_key").asc(nulls_last=True)
    )
    return models.order_by("price_group", key, "display_name", "slug")


def model_list(
    *, filters: CatalogueFilters | None = None, at: datetime | None = None
) -> list[AIModel]:
    """The listed models matching `filters`, each with `current_rate` and `next_rate`.
    Two queries, whatever the size of the catalogue."""
    filters = filters or CatalogueFilters()
    at = at or timezone.now()
    models = _with_rate_ids(listed_models().select_related("provider"), at)
    models = _ordered(_filtered(models, filters), filters.sort, at)
    return _attach_rates(list(models), models)


def model_with_rates(*, slug: str, at: datetime | None = None) -> AIModel:
    """One listed model with `current_rate` and `next_rate`, or NotFound."""
    at = at or timezone.now()
    model = _with_rate_ids(listed_models().select_related("provider"), at).filter(slug=slug)
    found = _attach_rates(list(model), model)
    if not found:
        raise NotFound(f"No model named {slug!r}.")
    return found[0]


def model_rate_timeline(*, model: AIModel, at: datetime | None = None) -> RateTimeline:
    """All of a model's rates, split at `at` into scheduled changes and history."""
    at = at or timezone.now()
    rates = list(model.rates.order_by("-effective_from"))
    history = [r for r in rates if r.effective_from <= at]
    scheduled = [r for r in reversed(rates) if r.effective_from > at]
    return RateTimeline(
        current=history[0] if history else None, scheduled=scheduled, history=history
    )


def models_accessible(*, tier: str) -> QuerySet[AIModel]:
    """The listed models an account on `tier` may use."""
    return (
        listed_models()
        .filter(accessible_models_q(tier=tier))
        .select_related("provider")
        .order_by("slug")
    )


def providers_listed() -> QuerySet[Provider]:
    """Providers with at least one listed model, for filters."""
    return Provider.objects.filter(active=True, models__active=True).distinct().order_by("name")
