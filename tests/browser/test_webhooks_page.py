import re

import pytest
from playwright.sync_api import expect

from accounts.webhooks.models import WebhookEndpoint
from tests.accounts.webhook_receiver import Receiver
from tests.browser.conftest import log_in
from tests.factories import make_account

pytestmark = pytest.mark.browser


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_add_endpoint_send_test_event_and_see_the_attempt(
    page, live_server, transactional_db, receiver
):
    account = make_account("pro")
    log_in(page, live_server, account.owner)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Settings → Webhooks"
    ).click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("browser test")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_test_id("endpoint-row")).to_have_count(1)
    page.get_by_test_id("endpoint-created").get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile("127.0.0.1"))).to_be_visible()

    page.get_by_role("link", name="Reveal secret").click()
    secret = page.get_by_test_id("endpoint-secret").inner_text().strip()
    assert secret == WebhookEndpoint.objects.get(account=account).secret
    receiver.secret = secret

    page.get_by_role("button", name="Send test event").click()
    row = page.get_by_test_id("delivery-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("Delivered")
    expect(row.get_by_test_id("attempt")).to_contain_text("200")
    assert [p["type"] for p in receiver.verified] == ["webhook.test"]
