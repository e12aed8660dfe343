import hashlib

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts import services
from accounts.models import ApiKey
from tests.factories import make_account, make_key

pytestmark = pytest.mark.django_db


def test_key_is_shown_once_and_stored_only_as_hash(account):
    key, secret = make_key(account)
    assert secret.startswith(f"yx_{key.prefix}_")
    stored = ApiKey.objects.values().get(pk=key.pk)
    assert secret not in str(stored)
    assert stored["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()


def test_key_lookup_is_one_indexed_query(account, django_assert_num_queries):
    _, secret = make_key(account)
    services.api_key_authenticate(raw_key=secret)  # first use records last_used_at
    with django_assert_num_queries(1):
        assert services.api_key_authenticate(raw_key=secret).account == account


@pytest.mark.parametrize(
    "header",
    [
        "Bearer yx_nothing",
        "Bearer yx_000000000000_" + "A" * 43,
        "Bearer sk-openai-looking-key",
        "Bearer ",
    ],
)
def test_malformed_or_unknown_key_gets_401(api_client, header):
    response = api_client.get("/api/auth/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_right_prefix_wrong_secret_gets_401(api_client, api_key):
    _, secret = api_key
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    response = api_client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert response.status_code == 401


def test_revoked_key_gets_401(key_client, api_key, account):
    assert key_client.get("/api/auth/me").status_code == 200
    services.api_key_revoke(account=account, key_id=api_key[0].pk)
    response = key_client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "invalid_api_key",
        "message": "The API key has been revoked.",
    }


def test_last_used_is_recorded_once_per_window(key_client, api_key):
    key = api_key[0]
    for _ in range(3):
        assert key_client.get("/api/auth/me").status_code == 200
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    key_client.get("/api/auth/me")
    key.refresh_from_db()
    assert key.last_used_at == first  # within the window: no further write


def test_api_create_list_and_revoke_own_keys(client, account):
    client.force_login(account.owner)
    created = client.post("/api/keys", {"name": "ci"}, content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("yx_") and body["active"] is True
    listed = client.get("/api/keys").json()["results"]
    assert [k["name"] for k in listed] == ["ci"] and "key" not in listed[0]
    revoked = client.delete(f"/api/keys/{body['id']}")
    assert revoked.status_code == 200 and revoked.json()["active"] is False


def test_api_create_key_needs_a_name(client, account):
    client.force_login(account.owner)
    response = client.post("/api/keys", {"name": "  "}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert not ApiKey.objects.exists()


def test_another_accounts_key_is_404_everywhere(client, account):
    other_key, _ = make_key(make_account("pro"))
    client.force_login(account.owner)
    assert client.get(f"/api/keys/{other_key.pk}").json()["error"]["code"] == "not_found"
    assert client.delete(f"/api/keys/{other_key.pk}").status_code == 404
    assert client.post(reverse("api_key_revoke", args=[other_key.pk])).status_code == 404
    other_key.refresh_from_db()
    assert other_key.revoked_at is None


def test_create_api_key_command_prints_a_working_key(api_client, account, capsys):
    call_command("create_api_key", account.owner.email, "--name", "script")
    secret = capsys.readouterr().out.strip()
    response = api_client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.json()["email"] == account.owner.email
    assert ApiKey.objects.get(account=account).name == "script"
