import pytest
from django.urls import reverse

from accounts.tiers import TIERS
from tests.factories import make_account, make_key

EXPECTED = {
    "free": (1, "Low", 10, False),
    "basic": (2, "Normal", 50, False),
    "pro": (3, "High", 100, True),
    "enterprise": (4, "Critical", None, True),
}


@pytest.mark.django_db
@pytest.mark.parametrize("tier", list(EXPECTED))
def test_me_reports_tier_benefits_and_priority_header(api_client, tier):
    account = make_account(tier)
    _, secret = make_key(account)
    response = api_client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    priority, label, limit, webhooks = EXPECTED[tier]
    assert response.json() == {
        "id": account.owner.pk,
        "email": account.owner.email,
        "account_id": account.pk,
        "tier": tier,
        "priority": priority,
        "priority_label": label,
        "rate_limit_per_minute": limit,
        "webhooks_enabled": webhooks,
        "credit_balance": "5.000000",  # the starter credit
    }
    assert response["X-Request-Priority"] == str(priority)


def test_tier_table_order_equals_priority():
    assert [t.priority for t in TIERS.values()] == [1, 2, 3, 4]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/keys/999999", "/api/nothing-here", "/v1/nothing"])
def test_priority_header_on_error_responses_to_key_requests(key_client, path):
    response = key_client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response["X-Request-Priority"] == "1"


@pytest.mark.django_db
def test_me_with_session_login_has_no_priority_header(client, account):
    client.force_login(account.owner)
    response = client.get(reverse("api_me"))
    assert response.status_code == 200
    assert response.json()["tier"] == "free"
    assert "X-Request-Priority" not in response
