import re
from datetime import timedelta

import pytest
from django.utils import timezone

from models_catalog import services
from tests.factories import make_account, make_priced_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def free_client(client):
    client.force_login(make_account("free").owner)
    return client


@pytest.fixture
def shelf(db):
    """A small catalogue: a free chat model, a pro reasoning model, a basic image model."""
    return {
        "llama": make_priced_model(
            slug="meta/llama-3-8b",
            provider__slug="meta",
            display_name="Llama 3 8B",
            prices={"input_per_mtok": "0.05", "output_per_mtok": "0.08"},
        ),
        "o3": make_priced_model(
            slug="openai/o3",
            provider__slug="openai",
            display_name="o3",
            min_tier="pro",
            prices={
                "input_per_mtok": "2",
                "output_per_mtok": "8",
                "reasoning_per_mtok": "8",
                "cached_input_per_mtok": "0.5",
            },
        ),
        "dalle": make_priced_model(
            slug="openai/dall-e-3",
            provider__slug="openai",
            display_name="DALL-E 3",
            modality="image",
            min_tier="basic",
        ),
    }


def _rows(response) -> list[str]:
    return re.findall(r'data-testid="model-row" data-slug="([^"]+)"', response.content.decode())


def test_models_page_shows_prices_per_million_tokens_and_per_unit(free_client, shelf):
    page = free_client.get("/models/").content.decode()
    assert "0.05" in page and "0.08" in page and "per 1M tokens" in page
    assert "Reasoning" in page and "Cached input" in page
    assert "0.04</strong> per image" in page


def test_free_customer_sees_higher_tier_models_locked_with_an_upgrade_link(free_client, shelf):
    page = free_client.get("/models/").content.decode()
    locked = re.findall(r'data-slug="([^"]+)" class="locked"', page)
    assert sorted(locked) == ["openai/dall-e-3", "openai/o3"]
    assert page.count('href="/settings/billing/">Upgrade in Settings → Billing') == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("provider=openai", ["openai/dall-e-3", "openai/o3"]),
        ("modality=image", ["openai/dall-e-3"]),
        ("tier=pro", ["openai/o3"]),
        ("available=on", ["meta/llama-3-8b"]),
        ("q=llama", ["meta/llama-3-8b"]),
        ("q=OPENAI&modality=chat", ["openai/o3"]),
        ("modality=nonsense", ["openai/dall-e-3", "meta/llama-3-8b", "openai/o3"]),
    ],
)
def test_models_page_filters(free_client, shelf, query, expected):
    assert _rows(free_client.get(f"/models/?{query}")) == expected


def test_sort_by_price_orders_text_models_then_unit_models(free_client, shelf):
    assert _rows(free_client.get("/models/?sort=price")) == [
        "meta/llama-3-8b",
        "openai/o3",
        "openai/dall-e-3",
    ]
    assert _rows(free_client.get("/models/?sort=-price"))[:2] == ["openai/o3", "meta/llama-3-8b"]


def test_htmx_filter_renders_only_the_results_and_pushes_a_clean_url(free_client, shelf):
    response = free_client.get(
        "/models/?q=&provider=openai&modality=&tier=&sort=name", HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.startswith('<div id="models-results"') and "<html" not in body
    assert response["HX-Push-Url"] == "/models/?provider=openai"
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(free_client, shelf):
    response = free_client.get(
        "/models/?provider=openai", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()
    assert _rows(response) == ["openai/dall-e-3", "openai/o3"]


def test_filter_form_keeps_the_chosen_filters(free_client, shelf):
    page = free_client.get("/models/?provider=openai&available=on").content.decode()
    assert '<option value="openai" selected>' in page
    assert re.search(r'name="available"[^>]*checked', page)


def test_models_page_needs_login(client):
    response = client.get("/models/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("n_models", [25, 500])
@pytest.mark.parametrize("query", ["", "?sort=-price&available=on"])
def test_models_page_runs_bounded_queries(
    free_client, catalogue, n_models, query, django_assert_max_num_queries
):
    catalogue(n_models)
    with django_assert_max_num_queries(6):
        response = free_client.get(f"/models/{query}")
    assert response.status_code == 200 and len(_rows(response)) > 0


def test_model_detail_shows_rate_history_and_scheduled_change(free_client, shelf):
    model = shelf["llama"]
    services.rate_add(
        model=model,
        effective_from=timezone.now() + timedelta(days=7),
        input_per_mtok="0.04",
        output_per_mtok="0.06",
    )
    page = free_client.get("/models/meta/llama-3-8b/").content.decode()
    history = page.split('data-testid="rate-history"')[1]
    scheduled = page.split('data-testid="scheduled-changes"')[1].split("</section>")[0]
    assert "0.05" in history and "In force" in history and "0.06" not in history
    assert "0.04" in scheduled and "0.06" in scheduled
    assert 'data-testid="locked"' not in page


def test_model_detail_of_a_locked_model_links_to_upgrade(free_client, shelf):
    page = free_client.get("/models/openai/o3/").content.decode()
    assert 'data-testid="locked"' in page and "requires the Pro tier" in page
    assert 'href="/settings/billing/"' in page


def test_model_detail_of_an_unknown_or_inactive_model_is_404(free_client, shelf):
    shelf["o3"].active = False
    shelf["o3"].save()
    assert free_client.get("/models/openai/o3/").status_code == 404
    assert free_client.get("/models/openai/nothing/").status_code == 404
