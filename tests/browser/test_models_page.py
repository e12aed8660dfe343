import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.factories import make_account, make_priced_model

pytestmark = pytest.mark.browser


@pytest.fixture
def shelf(transactional_db):
    make_priced_model(slug="meta/llama-3-8b", provider__slug="meta", display_name="Llama 3 8B")
    make_priced_model(
        slug="openai/gpt-4o", provider__slug="openai", display_name="GPT-4o", min_tier="pro"
    )
    make_priced_model(
        slug="openai/dall-e-3",
        provider__slug="openai",
        display_name="DALL-E 3",
        modality="image",
        min_tier="basic",
    )


def test_filter_models_share_the_url_reload_and_see_locked_models(page, live_server, shelf):
    log_in(page, live_server, make_account("free").owner)
    page.goto("/models/")
    rows = page.get_by_test_id("model-row")
    expect(rows).to_have_count(3)
    locked = page.locator("tr[data-slug='openai/gpt-4o']")
    expect(locked.get_by_test_id("locked")).to_contain_text("Locked")
    expect(locked.get_by_role("link", name="Upgrade in Settings → Billing")).to_have_attribute(
        "href", "/settings/billing/"
    )
    page.evaluate("window.notReloaded = true")

    page.get_by_label("Provider").select_option("openai")
    expect(page).to_have_url(re.compile(r"/models/\?provider=openai$"))
    expect(rows).to_have_count(2)
    page.get_by_label("Modality").select_option("image")
    expect(page).to_have_url(re.compile(r"/models/\?provider=openai&modality=image$"))
    expect(rows).to_have_count(1)
    assert page.evaluate("window.notReloaded") is True  # htmx swapped, no full load

    page.reload()
    expect(page.get_by_label("Provider")).to_have_value("openai")
    expect(page.get_by_label("Modality")).to_have_value("image")
    expect(rows).to_have_count(1)
    expect(page.locator("tr[data-slug='openai/dall-e-3'][data-locked='true']")).to_be_visible()


def test_search_and_available_to_me_filter_as_you_type(page, live_server, shelf):
    log_in(page, live_server, make_account("free").owner)
    page.goto("/models/")
    page.get_by_label("Search").fill("gpt")
    expect(page).to_have_url(re.compile(r"/models/\?q=gpt$"))
    expect(page.get_by_test_id("model-row")).to_have_count(1)
    page.get_by_label("Search").fill("")
    page.get_by_label("Available to me").check()
    expect(page).to_have_url(re.compile(r"/models/\?available=on$"))
    expect(page.get_by_test_id("model-row")).to_have_count(1)
    expect(page.get_by_test_id("locked")).to_have_count(0)
