from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.webhooks import services
from accounts.webhooks.models import WebhookEndpoint
from tests.accounts.webhook_receiver import emit_depleted, make_endpoint
from tests.factories import make_account, make_key

pytestmark = pytest.mark.django_db

EVENTS = ["credits.low_balance", "credits.depleted"]


def client_for(account) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(account)[1]}")
    return client


@pytest.fixture
def pro():
    return make_account("pro")


@pytest.fixture
def api(pro) -> APIClient:
    return client_for(pro)


def create(api, url="https://hooks.example.com/yunxin", **extra):
    return api.post(
        "/api/webhooks/endpoints", {"url": url, "event_types": EVENTS, **extra}, format="json"
    )


@pytest.mark.parametrize("tier", ["free", "basic"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/webhooks/endpoints"),
        ("post", "/api/webhooks/endpoints"),
        ("get", "/api/webhooks/deliveries"),
        ("patch", "/api/webhooks/settings"),
    ],
)
def test_free_and_basic_get_403_tier_feature_unavailable(tier, method, path):
    response = getattr(client_for(make_account(tier)), method)(path, {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tier_feature_unavailable"
    assert "Pro" in response.json()["error"]["message"]


def test_create_shows_the_secret_and_lists_the_endpoint(api):
    response = create(api, description="alerts")
    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["status"] == "active"
    assert body["event_types"] == EVENTS and body["description"] == "alerts"
    listed = api.get("/api/webhooks/endpoints").json()["results"]
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]


def test_unknown_event_type_or_bad_url_is_a_validation_error(api):
    bad_type = api.post(
        "/api/webhooks/endpoints",
        {"url": "https://a.example/h", "event_types": ["nope"]},
        format="json",
    )
    bad_url = create(api, url="gopher://a.example/h")
    for response in (bad_type, bad_url):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"


def test_another_accounts_endpoint_is_404_everywhere(api):
    other = make_account("pro")
    endpoint = services.webhook_endpoint_create(
        account=other, url="https://o.example/h", event_types=EVENTS
    )
    base = f"/api/webhooks/endpoints/{endpoint.pk}"
    calls = [
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("get", f"{base}/secret"),
        ("post", f"{base}/rotate-secret"),
        ("post", f"{base}/test"),
    ]
    for method, path in calls:
        response = getattr(api, method)(path, {}, format="json")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_patch_disables_and_enables_again(api):
    endpoint_id = create(api).json()["id"]
    path = f"/api/webhooks/endpoints/{endpoint_id}"
    off = api.patch(path, {"enabled": False}, format="json").json()
    assert (off["status"], off["disabled_reason"]) == ("disabled", "customer")
    on = api.patch(path, {"enabled": True, "description": "back"}, format="json").json()
    assert (on["status"], on["description"]) == ("active", "back")


def test_reveal_and_rotate_secret(api):
    created = create(api).json()
    path = f"/api/webhooks/endpoints/{created['id']}"
    revealed = api.get(f"{path}/secret")
    assert revealed.json()["secret"] == created["secret"]
    assert revealed["Cache-Control"] == "no-store"
    rotated = api.post(f"{path}/rotate-secret").json()
    assert rotated["secret"] != created["secret"]
    expires = timezone.datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert abs(expires - timezone.now() - timedelta(hours=24)) < timedelta(minutes=1)


def test_delete_then_404(api):
    endpoint_id = create(api).json()["id"]
    assert api.delete(f"/api/webhooks/endpoints/{endpoint_id}").status_code == 204
    assert api.get(f"/api/webhooks/endpoints/{endpoint_id}").status_code == 404


def test_send_test_event_and_list_its_delivery(receiver, django_capture_on_commit_callbacks):
    account, endpoint = make_endpoint(receiver)
    api = client_for(account)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/webhooks/endpoints/{endpoint.pk}/test")
    assert response.status_code == 202 and response.json()["event_type"] == "webhook.test"
    [payload] = receiver.verified
    assert payload["data"]["endpoint_id"] == endpoint.pk
    [item] = api.get(f"/api/webhooks/deliveries?endpoint={endpoint.pk}").json()["results"]
    assert item["status"] == "succeeded" and item["event_id"] == payload["id"]
    assert [(a["number"], a["status_code"]) for a in item["attempts"]] == [(1, 200)]


def test_redeliver_through_the_api(receiver, django_capture_on_commit_callbacks):
    account, _ = make_endpoint(receiver)
    api = client_for(account)
    with django_capture_on_commit_callbacks(execute=True):
        emit_depleted(account)
    delivery_id = api.get("/api/webhooks/deliveries").json()["results"][0]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/webhooks/deliveries/{delivery_id}/redeliver")
    assert response.status_code == 202
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len(receiver.received) == 2


def test_deliveries_page_with_before_cursor(receiver, django_capture_on_commit_callbacks):
    account, _ = make_endpoint(receiver)
    api = client_for(account)
    for _ in range(3):
        emit_depleted(account)
    first = api.get("/api/webhooks/deliveries?limit=2").json()
    rest = api.get(f"/api/webhooks/deliveries?limit=2&before={first['next']}").json()
    assert len(first["results"]) == 2 and len(rest["results"]) == 1


def test_another_accounts_delivery_cannot_be_redelivered(receiver, api):
    account, _ = make_endpoint(receiver)
    emit_depleted(account)
    delivery_id = account.webhook_endpoints.get().deliveries.get().pk
    response = api.post(f"/api/webhooks/deliveries/{delivery_id}/redeliver")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_low_balance_threshold_setting(api, pro):
    response = api.patch("/api/webhooks/settings", {"low_balance_threshold": "12.5"}, format="json")
    assert response.json() == {"low_balance_threshold": "12.500000"}
    pro.refresh_from_db()
    assert pro.webhook_low_balance_threshold == 12_500_000
    off = api.patch("/api/webhooks/settings", {"low_balance_threshold": None}, format="json")
    assert off.json() == {"low_balance_threshold": None}


def test_webhook_operations_are_in_the_schema(api):
    schema = api.get("/api/schema?format=json").json()
    assert "/api/webhooks/endpoints/{endpoint_id}/rotate-secret" in schema["paths"]
    assert "/api/webhooks/deliveries/{delivery_id}/redeliver" in schema["paths"]
