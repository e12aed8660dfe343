from unittest import mock

import pytest

pytestmark = pytest.mark.django_db


def test_unknown_api_url_is_json_404(api_client):
    response = api_client.get("/api/no/such/thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_wrong_method_is_json_405(key_client):
    response = key_client.post("/api/auth/me")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_anonymous_is_json_401(api_client):
    response = api_client.get("/api/keys")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_malformed_json_is_validation_error(key_client):
    response = key_client.post("/api/keys", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_unexpected_failure_is_json_500_without_traceback(key_client):
    key_client.raise_request_exception = False
    with mock.patch("accounts.api.format_credits", side_effect=RuntimeError("boom secret")):
        response = key_client.get("/api/auth/me")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert "boom" not in response.content.decode()


def test_schema_and_docs_are_served(api_client):
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/auth/me" in schema.content.decode()
    docs = api_client.get("/api/docs")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
