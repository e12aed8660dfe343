from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from accounts.tiers import TIERS
from models_catalog import services
from models_catalog.models import AIModel, Modality, Provider, Rate

pytestmark = pytest.mark.django_db


def _snapshot() -> list:
    return [
        list(Provider.objects.order_by("pk").values()),
        list(AIModel.objects.order_by("pk").values()),
        list(Rate.objects.order_by("pk").values()),
    ]


def _load() -> None:
    call_command("load_demo_catalog", stdout=StringIO())


def test_demo_catalogue_is_realistic_and_complete():
    _load()
    models = AIModel.objects.annotate(n_rates=Count("rates"))
    assert models.count() >= 25 and Provider.objects.count() >= 6
    assert set(models.values_list("modality", flat=True)) == set(Modality.values)
    assert set(models.values_list("min_tier", flat=True)) == set(TIERS)
    assert models.filter(experimental=True).exists()
    assert not models.filter(n_rates=0).exists()
    assert Rate.objects.filter(reasoning_per_mtok__isnull=False).exists()
    assert Rate.objects.filter(cached_input_per_mtok__isnull=False).exists()
    assert Rate.objects.filter(effective_from__gt=timezone.now()).count() == 1


def test_loading_the_demo_catalogue_twice_changes_nothing():
    _load()
    first = _snapshot()
    _load()
    assert _snapshot() == first


def test_reloading_keeps_rate_changes_staff_made():
    _load()
    model = AIModel.objects.get(slug="openai/gpt-4o")
    services.rate_add(
        model=model,
        effective_from=timezone.now() + timedelta(days=3),
        input_per_mtok="2",
        output_per_mtok="8",
    )
    rates = list(Rate.objects.order_by("pk").values())
    _load()
    assert list(Rate.objects.order_by("pk").values()) == rates


def test_reloading_keeps_models_staff_deactivated():
    _load()
    services.models_set_active(model_ids=[AIModel.objects.get(slug="openai/o3").pk], active=False)
    _load()
    assert AIModel.objects.get(slug="openai/o3").active is False
