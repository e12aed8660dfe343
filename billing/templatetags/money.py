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
