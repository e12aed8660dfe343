"""Every tier against every min_tier: through the service, and through the HTTP paths
that gate (the API's `accessible` and the OpenAI-compatible model retrieve)."""

import pytest

from accounts.tiers import TIERS
from models_catalog.models import AIModel
from models_catalog.services import (
    ModelTierRestricted,
    accessible_models_q,
    model_access_check,
    model_accessible,
)
from tests.factories import AIModelFactory, make_account, make_key, make_priced_model

ORDER = ["free", "basic", "pro", "enterprise"]  # spelled out here, not read from the table
MATRIX = [(tier, min_tier) for tier in ORDER for min_tier in ORDER]


def allowed(tier: str, min_tier: str) -> bool:
    return ORDER.index(tier) >= ORDER.index(min_tier)


@pytest.mark.parametrize(("tier", "min_tier"), MATRIX)
def test_tier_may_use_models_up_to_its_own(tier, min_tier):
    model = AIModel(slug="acme/m", min_tier=min_tier)
    assert model_accessible(tier=tier, model=model) is allowed(tier, min_tier)


@pytest.mark.django_db
@pytest.mark.parametrize(("tier", "min_tier"), MATRIX)
def test_access_check_passes_or_refuses_with_403_naming_both_tiers(tier, min_tier):
    account, model = make_account(tier), AIModelFactory(min_tier=min_tier)
    if allowed(tier, min_tier):
        model_access_check(account=account, model=model)
        return
    with pytest.raises(ModelTierRestricted) as denied:
        model_access_check(account=account, model=model)
    assert (denied.value.code, denied.value.status_code) == ("model_tier_restricted", 403)
    assert f"requires the {TIERS[min_tier].label} tier" in denied.value.message
    assert f"on the {TIERS[tier].label} tier" in denied.value.message


@pytest.mark.django_db
@pytest.mark.parametrize(("tier", "min_tier"), MATRIX)
def test_v1_model_retrieve_gates_by_tier(api_client, tier, min_tier):
    _, secret = make_key(make_account(tier))
    model = make_priced_model(min_tier=min_tier)
    response = api_client.get(f"/v1/models/{model.slug}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    if allowed(tier, min_tier):
        assert response.status_code == 200 and response.json()["id"] == model.slug
        return
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "model_tier_restricted"
    assert TIERS[min_tier].label in error["message"] and TIERS[tier].label in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(("tier", "min_tier"), MATRIX)
def test_api_model_detail_says_whether_the_caller_may_use_it(api_client, tier, min_tier):
    _, secret = make_key(make_account(tier))
    model = make_priced_model(min_tier=min_tier)
    response = api_client.get(f"/api/models/{model.slug}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json()["accessible"] is allowed(tier, min_tier)


@pytest.mark.parametrize("tier", ORDER)
@pytest.mark.parametrize("min_tier", ORDER)
def test_experimental_models_are_enterprise_only(tier, min_tier):
    model = AIModel(slug="acme/exp", min_tier=min_tier, experimental=True)
    assert model_accessible(tier=tier, model=model) is (tier == "enterprise")


@pytest.mark.django_db
def test_denial_of_an_experimental_model_says_why():
    model = AIModelFactory(min_tier="basic", experimental=True)
    with pytest.raises(ModelTierRestricted) as denied:
        model_access_check(account=make_account("pro"), model=model)
    assert "Enterprise" in denied.value.message and "experimental" in denied.value.message
    assert denied.value.details == {"required_tier": "enterprise", "current_tier": "pro"}


@pytest.mark.django_db
@pytest.mark.parametrize("tier", ORDER)
def test_database_filter_agrees_with_the_service(tier):
    models = [
        AIModelFactory(min_tier=min_tier, experimental=experimental)
        for min_tier in ORDER
        for experimental in (False, True)
    ]
    expected = {m.pk for m in models if model_accessible(tier=tier, model=m)}
    assert (
        set(AIModel.objects.filter(accessible_models_q(tier=tier)).values_list("pk", flat=True))
        == expected
    )
