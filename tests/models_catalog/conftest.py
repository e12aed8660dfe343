from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tiers import TIERS
from models_catalog.models import AIModel, Modality, Provider, Rate
from tests.factories import UNIT_OF

TIER_NAMES = list(TIERS)


def build_catalogue(n_models: int) -> list[AIModel]:
    """A catalogue of n models over 6 providers, every modality and tier, each with a
    past rate, the rate in force and a scheduled change. Bulk-inserted: size matters here,
    not the write path."""
    now = timezone.now()
    providers = Provider.objects.bulk_create(
        Provider(slug=f"bulk{i}", name=f"Bulk {i}") for i in range(6)
    )
    modalities = list(Modality.values)
    models = AIModel.objects.bulk_create(
        AIModel(
            provider=providers[i % 6],
            slug=f"bulk{i % 6}/model-{i}",
            display_name=f"Model {i}",
            modality=modalities[i % len(modalities)],
            min_tier=TIER_NAMES[i % 4],
            experimental=i % 50 == 7,
        )
        for i in range(n_models)
    )
    rates = []
    for i, model in enumerate(AIModel.objects.filter(slug__startswith="bulk")):
        for days, factor in ((-60, 2), (-1, 1), (30, 3)):
            price = Decimal(i % 17 + 1) * factor
            prices = (
                {"input_per_mtok": price, "output_per_mtok": price * 4}
                if model.is_text
                else {"unit_price": price / 100, "unit": UNIT_OF[model.modality]}
            )
            rates.append(Rate(model=model, effective_from=now + timedelta(days=days), **prices))
    Rate.objects.bulk_create(rates)
    return models


@pytest.fixture
def catalogue(db):
    return build_catalogue
