"""Reads of the catalogue. The catalogue is public; access is decided by services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from models_catalog.models import AIModel, Rate
from yunxin.errors import NotFound


def model_get(*, slug: str) -> AIModel:
    """An active model by slug, or NotFound."""
    model = AIModel.objects.select_related("provider").filter(slug=slug, active=True).first()
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
