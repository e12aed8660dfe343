"""The one table of tier benefits (design.md, "Tiers"). Nothing else hard-codes them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


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
