import pytest

from accounts.models import TierChange
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser(email="staff@yunxin.test", password="pw")
    client.force_login(staff)
    return client, staff


def _change_tier(client, account, tier, reason):
    return client.post(
        f"/admin/accounts/account/{account.pk}/change/",
        {
            "name": account.name,
            "tier": tier,
            "tier_change_reason": reason,
            **{f"{p}-TOTAL_FORMS": "0" for p in ("api_keys", "tier_changes")},
            **{f"{p}-INITIAL_FORMS": "0" for p in ("api_keys", "tier_changes")},
        },
    )


def test_tier_changed_in_admin_is_what_me_reports_next(staff_client, account, api_client):
    client, staff = staff_client
    _, secret = make_key(account)
    assert _change_tier(client, account, "pro", "signed the pro contract").status_code == 302
    me = api_client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert me.json()["tier"] == "pro" and me["X-Request-Priority"] == "3"
    change = TierChange.objects.get(account=account)
    assert (change.from_tier, change.to_tier, change.actor) == ("free", "pro", staff)
    assert change.reason == "signed the pro contract"


def test_tier_change_in_admin_needs_a_reason(staff_client, account):
    client, _ = staff_client
    response = _change_tier(client, account, "enterprise", "")
    assert response.status_code == 200
    assert "Say why the tier changes." in response.content.decode()
    account.refresh_from_db()
    assert account.tier == "free" and not TierChange.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/user/?q=customer",
        "/admin/accounts/account/?tier__exact=free&q=example",
        "/admin/accounts/apikey/?q=test",
        "/admin/accounts/tierchange/",
    ],
)
def test_admin_lists_search_and_filter(staff_client, api_key, url):
    client, _ = staff_client
    assert client.get(url).status_code == 200
