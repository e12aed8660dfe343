"""Cost of usage at a rate. The one place usage is turned into micro-credits.

Token rates are credits per 1M tokens, so the cost in micro-credits of n tokens is exactly
rate × n. Each part is summed as a Decimal and the total rounded half-up once per event.
Token counts are disjoint: `input_tokens` excludes cached input, `output_tokens` excludes
reasoning. A model without a reasoning price charges reasoning at its output price; one
without a cached-input price charges cached input at its input price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.money import MICRO, round_micro
from models_catalog.models import Rate


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_input_tokens: int = 0
    units: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "reasoning_tokens", "cached_input_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if not isinstance(self.units, Decimal) or not self.units.is_finite() or self.units < 0:
            raise ValueError("units must be a non-negative decimal")


def exact_cost(rate: Rate, usage: Usage) -> Decimal:
    """Unrounded cost in micro-credits."""
    if rate.is_unit_priced:
        return rate.unit_price * MICRO * usage.units
    reasoning = (
        rate.reasoning_per_mtok if rate.reasoning_per_mtok is not None else rate.output_per_mtok
    )
    cached = (
        rate.cached_input_per_mtok
        if rate.cached_input_per_mtok is not None
        else rate.input_per_mtok
    )
    return (
        rate.input_per_mtok * usage.input_tokens
        + rate.output_per_mtok * usage.output_tokens
        + reasoning * usage.reasoning_tokens
        + cached * usage.cached_input_tokens
    )


def cost_micro(rate: Rate, usage: Usage) -> int:
    return round_micro(exact_cost(rate, usage))
