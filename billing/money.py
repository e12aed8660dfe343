"""The one place credits are converted and rounded.

Credits are integer micro-credits (1 credit = 1,000,000). Rates are Decimal credits per
1M tokens (or per unit). No float ever touches money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICRO = 1_000_000


def format_credits(micro: int) -> str:
    """12_500_000 -> "12.500000" (the API's decimal string)."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(int(micro)), MICRO)
    return f"{sign}{whole}.{frac:06d}"


def parse_credits(text: str) -> int:
    """ "12.5" -> 12_500_000. Refuses more than six decimals rather than rounding."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not a number of credits") from exc
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number of credits")
    micro = value * MICRO
    if micro != micro.to_integral_value():
        raise ValueError("credits have at most 6 decimal places")
    return int(micro)


def round_micro(amount: Decimal) -> int:
    """Round a Decimal amount of micro-credits half-up, once, to an integer."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
