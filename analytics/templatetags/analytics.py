from django import template

from accounts.models import Account
from analytics.selectors import credit_runway as runway_of

register = template.Library()


@register.inclusion_tag("analytics/_credit_runway.html")
def credit_runway(account: Account) -> dict:
    """`{% load analytics %}{% credit_runway account %}`: the days of credit left, for a
    page whose view does not compute `runway` itself."""
    return {"runway": runway_of(account=account)}
