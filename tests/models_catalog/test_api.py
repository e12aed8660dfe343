from datetime import timedelta

import pytest
from django.utils import timezone

from models_catalog import services
from tests.factories import AIModelFactory, make_account, make_key, make_priced_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def gpt(db):
    model = make_priced_model(
        slug="openai/gpt-4o",
        provider__slug="openai",
        min_tier="pro",
        prices={"input_per_mtok": "2.5", "output_per_mtok": "10", "cached_input_per_mtok": "1.25"},
    )
    services.rate_add(
        model=model,
        effective_from=timezone.now() + timedelta(days=10),
        input_per_mtok="2",
        output_per_mtok="8",
    )
    return model


def _bearer(tier: str) -> str:
    return f"Bearer {make_key(make_account(tier))[1]}"


def test_model_list_is_public_with_accessible_null(api_client, gpt):
    response = api_client.get("/api/models")
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["slug"] == "openai/gpt-4o" and item["provider"]["slug"] == "openai"
    assert item["min_tier"] == "pro" and item["accessible"] is None


def test_model_prices_are_decimal_strings(api_client, gpt):
    item = api_client.get("/api/models/openai/gpt-4o").json()
    assert item["pricing"] | {"effective_from": None} == {
        "effective_from": None,
        "input_per_mtok": "2.500000",
        "output_per_mtok": "10.000000",
        "reasoning_per_mtok": None,
        "cached_input_per_mtok": "1.250000",
        "unit_price": None,
        "unit": None,
    }
    assert item["scheduled_pricing"]["input_per_mtok"] == "2.000000"


def test_unit_priced_model_shows_its_unit(api_client):
    make_priced_model(slug="acme/painter", provider__slug="acme", modality="image")
    pricing = api_client.get("/api/models/acme/painter").json()["pricing"]
    assert (pricing["unit_price"], pricing["unit"], pricing["input_per_mtok"]) == (
        "0.040000",
        "image",
        None,
    )


@pytest.mark.parametrize(("tier", "accessible"), [("basic", False), ("pro", True)])
def test_model_list_says_whether_a_key_may_use_each_model(api_client, gpt, tier, accessible):
    response = api_client.get("/api/models", HTTP_AUTHORIZATION=_bearer(tier))
    assert response.json()["results"][0]["accessible"] is accessible


def test_model_list_says_whether_a_session_may_use_each_model(client, gpt):
    client.force_login(make_account("enterprise").owner)
    assert client.get("/api/models").json()["results"][0]["accessible"] is True


def test_invalid_key_on_the_public_list_is_401(api_client, gpt):
    response = api_client.get("/api/models", HTTP_AUTHORIZATION="Bearer yx_nope")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("path", ["/api/models/acme/nothing", "/v1/models/acme/nothing"])
def test_unknown_model_is_json_404(api_client, path):
    response = api_client.get(path, HTTP_AUTHORIZATION=_bearer("enterprise"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_inactive_model_is_not_listed_and_is_404(api_client, gpt):
    gpt.active = False
    gpt.save()
    assert api_client.get("/api/models").json()["results"] == []
    assert api_client.get("/api/models/openai/gpt-4o").status_code == 404
    v1 = api_client.get("/v1/models/openai/gpt-4o", HTTP_AUTHORIZATION=_bearer("enterprise"))
    assert v1.status_code == 404


def test_models_of_an_inactive_provider_are_not_listed(api_client, gpt):
    gpt.provider.active = False
    gpt.provider.save()
    assert api_client.get("/api/models").json()["results"] == []


def test_v1_models_lists_what_the_key_may_use_in_openai_shape(api_client, gpt):
    free_model = make_priced_model(slug="meta/llama", provider__slug="meta")
    AIModelFactory(min_tier="free", active=False)
    response = api_client.get("/v1/models", HTTP_AUTHORIZATION=_bearer("free"))
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [
            {
                "id": "meta/llama",
                "object": "model",
                "created": int(free_model.created_at.timestamp()),
                "owned_by": "meta",
            }
        ],
    }


def test_v1_models_needs_a_key(api_client, client, gpt):
    assert api_client.get("/v1/models").json()["error"]["code"] == "not_authenticated"
    client.force_login(make_account("pro").owner)
    assert client.get("/v1/models").status_code == 401
    bad = api_client.get("/v1/models", HTTP_AUTHORIZATION="Bearer yx_nope")
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, "invalid_api_key")


def test_v1_models_response_carries_the_priority_header(api_client, gpt):
    response = api_client.get("/v1/models", HTTP_AUTHORIZATION=_bearer("pro"))
    assert response["X-Request-Priority"] == "3"


@pytest.mark.parametrize("n_models", [25, 500])
def test_model_list_runs_bounded_queries(
    api_client, catalogue, n_models, django_assert_max_num_queries
):
    catalogue(n_models)
    auth = _bearer("pro")
    with django_assert_max_num_queries(4):
        response = api_client.get("/api/models", HTTP_AUTHORIZATION=auth)
    results = response.json()["results"]
    assert len(results) == n_models and all(r["pricing"] for r in results)
    assert sum(r["scheduled_pricing"] is not None for r in results) == n_models


@pytest.mark.parametrize("n_models", [25, 500])
def test_v1_model_list_runs_bounded_queries(
    api_client, catalogue, n_models, django_assert_max_num_queries
):
    catalogue(n_models)
    auth = _bearer("enterprise")
    with django_assert_max_num_queries(3):
        response = api_client.get("/v1/models", HTTP_AUTHORIZATION=auth)
    assert len(response.json()["data"]) == n_models


def test_schema_documents_the_catalogue_endpoints(api_client):
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = schema.json()["paths"]
    assert {"/api/models", "/api/models/{slug}", "/v1/models", "/v1/models/{slug}"} <= set(paths)
