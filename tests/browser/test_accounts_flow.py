import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _me(base_url: str, key: str) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{base_url}/api/auth/me", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_signup_confirm_login_create_copy_use_and_revoke_key(page, live_server, mailoutbox):
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", "browser@example.com")
    page.fill("input[name=password1]", "a-long-pass-phrase-42")
    page.fill("input[name=password2]", "a-long-pass-phrase-42")
    page.get_by_role("button", name=re.compile("Sign Up", re.I)).click()
    expect(page.get_by_text(re.compile("verif|confirm", re.I)).first).to_be_visible()

    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mailoutbox[0].body).group(0)
    page.goto(link)
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()
    expect(page.locator(".tier-badge")).to_have_text("Free")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.fill("input[name=name]", "laptop")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_test_id("new-key")).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    key = page.evaluate("navigator.clipboard.readText()")
    assert key.startswith("yx_")

    status, me = _me(live_server.url, key)
    assert status == 200 and me["email"] == "browser@example.com" and me["priority"] == 1

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("key-row").get_by_text(re.compile("Revoked"))).to_be_visible()
    status, body = _me(live_server.url, key)
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
