import pytest
from django.template.loader import render_to_string

from analytics.selectors import credit_runway
from tests.analytics.conftest import hours_ago

pytestmark = pytest.mark.django_db


def test_runway_is_days_of_credit_at_the_last_weeks_average(customer):
    customer.charge(input_tokens=35_000_000, at=hours_ago(24 * 3))  # 70 credits this week
    customer.charge(input_tokens=50_000_000, at=hours_ago(24 * 9))  # older: not counted
    customer.account.refresh_from_db()
    runway = credit_runway(account=customer.account)
    assert (runway.week_spend, runway.daily_average) == (70_000_000, 10_000_000)
    assert runway.days == 83  # 1000 + 5 starter - 170 spent = 835 credits at 10 a day


def test_runway_page_text_and_low_balance_warning(customer):
    customer.charge(input_tokens=400_000_000, at=hours_ago(24 * 2))  # 800 credits in a week
    customer.account.refresh_from_db()
    html = render_to_string(
        "analytics/_credit_runway.html", {"runway": credit_runway(account=customer.account)}
    )
    assert "≈ 1 day of credit left" in html and "notice" in html and "Buy credits" in html


def test_runway_without_spend_says_credits_are_untouched(customer):
    html = render_to_string(
        "analytics/_credit_runway.html", {"runway": credit_runway(account=customer.account)}
    )
    assert "No spend in the last 7 days" in html and "1,005.00 credits" in html


def test_runway_tag_renders_for_any_page(customer):
    from django.template import Context, Template

    html = Template("{% load analytics %}{% credit_runway account %}").render(
        Context({"account": customer.account})
    )
    assert 'data-testid="credit-runway"' in html and "No spend in the last 7 days" in html
