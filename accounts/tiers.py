"""The one table of tier benefits (design.md, "Tiers"). Nothing else hard-codes them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from rest_framework import status

from yunxin.errors import DomainError


class TierName(models.TextChoices):
    FREE = "free", "Free"
    BASIC = "basic", "Basic"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


@dataclass(frozen=True)
class Tier:
    name: str
    label: str
    priority: int
    priority_label: str
    rate_limit_per_minute: int | None  # None = unlimited
    webhooks: bool
    access: str

    @property
    def rate_limit_label(self) -> str:
        if self.rate_limit_per_minute is None:
            return "Unlimited"
        return f"{self.rate_limit_per_minute} req/min"


TIERS: dict[str, Tier] = {
    t.name: t
    for t in (
        Tier("free", "Free", 1, "Low", 10, False, "Open-source and entry-level models"),
        Tier("basic", "Basic", 2, "Normal", 50, False, "Standard models from all providers"),
        Tier("pro", "Pro", 3, "High", 100, True, "Premium models including GPT-4, Claude, Gemini"),
        Tier(
            "enterprise",
            "Enterprise",
            4,
            "Critical",
            None,
            True,
            "All models including experimental releases",
        ),
    )
}


def get_tier(name: str) -> Tier:
    return TIERS[name]


def tier_at_least(name: str, minimum: str) -> bool:
    """Tier order equals priority."""
    return TIERS[name].priority >= TIERS[minimum].priority


class TierFeatureUnavailable(DomainError):
    code = "tier_feature_unavailable"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "This feature is not part of your tier."


def lowest_tier_with(feature: str) -> Tier:
    return min((t for t in TIERS.values() if getattr(t, feature)), key=lambda t: t.priority)


def tier_feature_check(*, tier: str, feature: str, what: str) -> None:
    """403 `tier_feature_unavailable` unless the tier includes the benefit."""
    if getattr(TIERS[tier], feature):
        return
    lowest = lowest_tier_with(feature)
    raise TierFeatureUnavailable(
        f"{what} come with the {lowest.label} tier and above; this account is on "
        f"{TIERS[tier].label}.",
        required_tier=lowest.name,
    )
