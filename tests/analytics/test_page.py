import csv
import io

import pytest

from analytics.models import UsageRollup
from tests.analytics.conftest import hours_ago
from tests.factories import make_key

pytestmark = pytest.mark.django_db


def page(client, **params) -> str:
    response = client.get("/analytics/", params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def usage(customer):
    _, batch = make_key(customer.account, name="batch jobs")
    customer.charge(input_tokens=1_000_000, at=hours_ago(2))  # 2 credits
    customer.charge("acme/mini", input_tokens=1_000_000, at=hours_ago(2), secret=batch)  # 1
    customer.charge("acme/image", units="25", at=hours_ago(50))  # 1 credit
    return batch


def test_new_customer_is_shown_how_to_make_a_first_request(logged_in):
    html = page(logged_in)
    assert 'data-testid="usage-empty-state"' in html
    assert "curl " in html and "/v1/chat/completions" in html and "Create an API key" not in html


def test_page_breaks_spend_down_by_model_and_key_with_share_and_average(logged_in, usage):
    html = page(logged_in)
    assert 'data-testid="total-spend">4.00<' in html
    assert ">50.0%<" in html and ">25.0%<" in html  # acme/chat 2 of 4, mini 1 of 4
    assert ">2.00<" in html  # acme/chat: 2 credits for 1 request
    assert "batch jobs" in html and "production" in html
    assert html.count("<svg") == 3 and html.count("<rect") >= 4


def test_24_hours_are_drawn_per_hour(logged_in, usage):
    html = page(logged_in, range="24h")
    assert "Credits spent per hour" in html and 'data-testid="total-spend">3.00<' in html


def test_filters_narrow_the_figures_and_stay_in_the_url(logged_in, usage, customer):
    response = logged_in.get(
        "/analytics/", {"range": "7d", "model": "acme/mini", "api_key": ""}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="analytics-panel"') and "<html" not in html
    assert response["HX-Push-Url"] == "/analytics/?range=7d&model=acme%2Fmini"
    assert 'data-testid="total-spend">1.00<' in html
    assert '<option value="acme/chat">' in html  # other models stay choosable


def test_unknown_filter_values_are_dropped(logged_in, usage):
    response = logged_in.get(
        "/analytics/", {"model": "acme/nope", "range": "1y"}, HTTP_HX_REQUEST="true"
    )
    assert response["HX-Push-Url"] == "/analytics/"
    assert 'data-testid="total-spend">4.00<' in response.content.decode()


def test_custom_range_is_read_in_the_customers_time_zone(logged_in, customer):
    at = hours_ago(48)
    customer.charge(input_tokens=500_000, at=at)
    day = at.date().isoformat()
    html = page(logged_in, range="custom", start=day, end=day, tz="UTC")
    assert 'data-testid="total-spend">1.00<' in html and "Credits spent per hour" in html


def test_an_inverted_custom_range_says_so(logged_in, usage):
    html = page(logged_in, range="custom", start="2026-02-10", end="2026-02-01")
    assert "ends before it starts" in html and 'data-testid="total-spend">4.00<' in html


def test_no_usage_in_range_is_not_the_first_request_guide(logged_in, customer):
    customer.charge(input_tokens=10, at=hours_ago(24 * 20))
    html = page(logged_in, range="7d")
    assert 'data-testid="empty-range"' in html and "usage-empty-state" not in html


def test_another_accounts_usage_never_shows(logged_in, usage, other):
    other.charge("acme/chat", input_tokens=7_000_000, at=hours_ago(1))
    other.key.name = "their-secret-project"
    other.key.save()
    html = page(logged_in)
    assert 'data-testid="total-spend">4.00<' in html and "their-secret-project" not in html
    filtered = page(logged_in, api_key=str(other.key.pk))
    assert 'data-testid="total-spend">4.00<' in filtered


def test_csv_link_exports_exactly_what_is_shown(logged_in, usage):
    html = page(logged_in, model="acme/chat", tz="Asia/Tokyo")
    url = html.split('data-testid="csv-export"')[0].rsplit('href="', 1)[1].split('"')[0]
    url = url.replace("&amp;", "&")
    assert "tz=Asia%2FTokyo" in url and "model=acme%2Fchat" in url
    rows = list(csv.DictReader(io.StringIO(logged_in.get(url).getvalue().decode())))
    assert [(r["model"], r["cost"]) for r in rows] == [("acme/chat", "2.000000")]


def test_page_runs_a_bounded_number_of_queries(logged_in, customer, django_assert_max_num_queries):
    secrets = [make_key(customer.account, name=f"k{i}")[1] for i in range(5)]
    for n in range(30):
        customer.charge(
            ("acme/chat", "acme/mini")[n % 2],
            input_tokens=10,
            at=hours_ago(n * 20),
            secret=secrets[n % 5],
        )
    assert UsageRollup.objects.count() == 30
    # session, user, account, keys, usage per day × model, per key, models, runway (days
    # + hours); with filters also the model, its choices, and whether there ever was usage
    with django_assert_max_num_queries(9):
        page(logged_in, range="90d")
    with django_assert_max_num_queries(12):
        page(logged_in, range="90d", model="acme/chat", api_key=customer.key.pk)
