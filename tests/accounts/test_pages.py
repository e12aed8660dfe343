import pytest

from accounts.models import ApiKey
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, account):
    client.force_login(account.owner)
    return client


def test_create_key_on_page_shows_secret_once(logged_in, account):
    response = logged_in.post("/keys/", {"name": "backend"})
    page = response.content.decode()
    key = ApiKey.objects.get(account=account)
    assert "Copy it now" in page and f"yx_{key.prefix}_" in page
    again = logged_in.get("/keys/").content.decode()
    assert f"yx_{key.prefix}_" not in again and f"yx_{key.prefix}…" in again


def test_htmx_create_renders_only_the_panel(logged_in):
    response = logged_in.post("/keys/", {"name": "backend"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="api-keys-panel">') and "<html" not in page


def test_create_key_without_name_is_a_form_error(logged_in):
    response = logged_in.post("/keys/", {"name": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_revoke_from_page(logged_in, account):
    key, _ = make_key(account)
    response = logged_in.post(f"/keys/{key.pk}/revoke/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_header_shows_tier_and_balance(logged_in):
    page = logged_in.get("/").content.decode()
    assert "tier-free" in page and "5.00 credits" in page


@pytest.mark.parametrize("n_keys", [3, 60])
def test_keys_page_runs_bounded_queries(logged_in, account, n_keys, django_assert_max_num_queries):
    for i in range(n_keys):
        make_key(account, name=f"k{i}")
    with django_assert_max_num_queries(8):
        assert logged_in.get("/keys/").status_code == 200
