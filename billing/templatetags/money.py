from django import template

from billing.money import format_credits

register = template.Library()


@register.filter
def credits(micro: int | None) -> str:
    """Micro-credits for display: exact, grouped, at least two decimals."""
    if micro is None:
        return "—"
    whole, _, frac = format_credits(micro).partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}.{frac.rstrip('0').ljust(2, '0')}"


@register.filter
def minor(amount: int | None, currency: str = "usd") -> str:
    """Cash in minor units for display: 1999, "usd" -> "$19.99"."""
    if amount is None:
        return "—"
    symbols = {"usd": "$", "eur": "€", "gbp": "£", "cny": "¥"}
    code = (currency or "usd").lower()
    whole, cents = divmod(int(amount), 100)
    text = f"{whole:,}.{cents:02d}"
    return f"{symbols[code]}{text}" if code in symbols else f"{text} {code.upper()}"


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key) if mapping else None
