import csv
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from tests.analytics.conftest import hours_ago, make_customer
from tests.factories import make_key, make_priced_model

pytestmark = pytest.mark.browser
ZONE = "Asia/Tokyo"


@pytest.fixture
def tokyo(browser, live_server):
    """A browser in Tokyo, logged in as a customer with a week and a half of usage."""
    since = timezone.now() - timedelta(days=60)
    for slug in ("acme/chat", "acme/mini"):
        make_priced_model(
            slug=slug,
            provider__slug="acme",
            since=since,
            prices={"input_per_mtok": "2", "output_per_mtok": "8"},
        )
    customer = make_customer()
    _, batch = make_key(customer.account, name="batch jobs")
    customer.charge(input_tokens=1_000_000, at=hours_ago(3))  # 2 credits
    customer.charge("acme/mini", input_tokens=500_000, at=hours_ago(30), secret=batch)  # 1
    customer.charge(input_tokens=2_000_000, at=hours_ago(24 * 12))  # 4, not in the last 7 days
    client = Client()
    client.force_login(customer.account.owner)
    context = browser.new_context(base_url=live_server.url, timezone_id=ZONE)
    context.set_default_timeout(15_000)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    yield page
    context.close()


def test_change_range_and_model_then_download_what_is_shown(tokyo, transactional_db):
    page = tokyo
    page.goto("/analytics/")
    expect(page).to_have_url(re.compile(r"/analytics/\?tz=Asia%2FTokyo$"))  # zone detected
    expect(page.get_by_test_id("tz-name")).to_have_text(ZONE)
    expect(page.get_by_test_id("total-spend")).to_have_text("7.00")
    page.evaluate("window.notReloaded = true")

    page.get_by_label("Range", exact=True).select_option("7d")
    expect(page).to_have_url(re.compile(r"/analytics/\?range=7d&tz=Asia%2FTokyo$"))
    expect(page.get_by_test_id("total-spend")).to_have_text("3.00")
    page.get_by_label("Model", exact=True).select_option("acme/mini")
    expect(page).to_have_url(re.compile(r"\?range=7d&model=acme%2Fmini&tz=Asia%2FTokyo$"))
    expect(page.get_by_test_id("total-spend")).to_have_text("1.00")
    expect(page.get_by_test_id("model-usage-row")).to_have_count(1)
    assert page.evaluate("window.notReloaded") is True  # htmx swapped, no full load

    with page.expect_download() as download:
        page.get_by_test_id("csv-export").first.click()
    assert download.value.suggested_filename.startswith("yunxin-usage-")
    with open(download.value.path()) as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], r["api_key_name"], r["cost"]) for r in rows] == [
        ("acme/mini", "batch jobs", "1.000000")
    ]


def test_a_custom_range_is_applied_and_kept_in_the_url(tokyo, transactional_db):
    page = tokyo
    page.goto("/analytics/?tz=Asia%2FTokyo")
    today = timezone.now().astimezone(timezone.get_fixed_timezone(9 * 60)).date()
    first = (today - timedelta(days=13)).isoformat()
    page.get_by_label("From").fill(first)
    expect(page.get_by_label("Range", exact=True)).to_have_value("custom")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"range=custom&start={first}&end={today.isoformat()}"))
    expect(page.get_by_test_id("total-spend")).to_have_text("7.00")
    page.reload()
    expect(page.get_by_label("From")).to_have_value(first)
