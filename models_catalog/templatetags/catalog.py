from decimal import Decimal

from django import template

from accounts.tiers import TIERS

register = template.Library()

SIX_PLACES = Decimal("0.000001")


@register.filter
def price(value: Decimal | None) -> str:
    """A Decimal price for display: exact, grouped, at least two decimals ("2.50",
    "0.075", "1,250.00"). Never goes through float."""
    if value is None:
        return "—"
    whole, _, frac = format(value.quantize(SIX_PLACES), "f").partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}.{frac.rstrip('0').ljust(2, '0')}"


@register.filter
def tier_label(name: str) -> str:
    tier = TIERS.get(name)
    return tier.label if tier else name
