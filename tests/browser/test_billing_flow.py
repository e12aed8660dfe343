"""Buying credits and upgrading through the offline Stripe simulator, end to end: the real
SDK path, simulator pages, signed events posted to our own webhook endpoint."""

import re

import pytest
from playwright.sync_api import expect

from billing.models import CreditPack, SubscriptionPlan
from tests.browser.conftest import log_in
from tests.factories import make_account, make_priced_model

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(transactional_db, settings, live_server):
    settings.SITE_URL = live_server.url  # where the simulator posts its signed events
    settings.STRIPE_SECRET_KEY, settings.STRIPE_SIMULATOR = "", True
    CreditPack.objects.create(name="Builder pack", credits=50_000_000, price=4_500)
    SubscriptionPlan.objects.create(tier="pro", stripe_price_id="price_sim_pro", amount=4_900)
    make_priced_model(
        slug="openai/gpt-4o", provider__slug="openai", display_name="GPT-4o", min_tier="pro"
    )


def test_buy_a_pack_in_the_simulator_and_see_the_balance_rise(page, live_server, shop):
    log_in(page, live_server, make_account("free").owner)
    page.goto("/settings/billing/")
    expect(page.get_by_test_id("billing-balance")).to_have_text("5.00")
    page.get_by_role("button", name="Buy").first.click()
    expect(page.get_by_text("Stripe simulator")).to_be_visible()
    expect(page.get_by_text("$45.00")).to_be_visible()
    page.get_by_role("button", name=re.compile("Pay with test card")).click()
    expect(page.get_by_test_id("purchase-status")).to_contain_text(
        "Payment received, credits added"
    )
    expect(page.get_by_test_id("header-balance")).to_have_text("55.00 credits")
    page.goto("/settings/billing/")
    expect(page.get_by_test_id("purchase-row").first).to_contain_text("Paid")


def test_upgrade_to_pro_unlocks_pro_models(page, live_server, shop):
    log_in(page, live_server, make_account("free").owner)
    page.goto("/models/")
    row = page.locator("tr[data-slug='openai/gpt-4o']")
    expect(row.get_by_test_id("locked")).to_be_visible()
    page.goto("/settings/billing/")
    page.get_by_test_id("upgrade-pro").click()
    page.get_by_role("button", name=re.compile("Pay with test card")).click()
    expect(page.get_by_test_id("current-tier")).to_have_text("Pro")
    page.goto("/models/")
    expect(row.get_by_test_id("locked")).to_have_count(0)


def test_refund_unused_credits_in_the_simulator_flow(page, live_server, shop):
    log_in(page, live_server, make_account("free").owner)
    page.goto("/settings/billing/")
    page.get_by_role("button", name="Buy").first.click()
    page.get_by_role("button", name=re.compile("Pay with test card")).click()
    expect(page.get_by_test_id("header-balance")).to_have_text("55.00 credits")
    page.goto("/settings/billing/")
    page.get_by_role("link", name="Refund").first.click()
    page.get_by_label(re.compile("Credits to refund")).fill("20")
    expect(page.get_by_test_id("refund-preview")).to_contain_text("$18.00")
    page.get_by_test_id("confirm-refund").click()
    expect(page.get_by_test_id("refund-row").first).to_contain_text("Refunded")
    expect(page.get_by_test_id("billing-balance")).to_have_text("35.00")
    expect(page.get_by_test_id("purchase-row").first).to_contain_text("20.00 refunded")
