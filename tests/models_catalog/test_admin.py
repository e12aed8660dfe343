from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from models_catalog.models import AIModel, Rate
from tests.factories import AIModelFactory, ProviderFactory, make_priced_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="staff@yunxin.test", password="pw")
    client.force_login(user)
    return client, user


@pytest.fixture
def model(db):
    return make_priced_model(slug="acme/chat", provider__slug="acme", display_name="Chat")


def _post(client, model: AIModel, *, new: dict | None = None, delete=(), edit=None):
    """Post the model's change form as the admin renders it: existing rates are view-only
    (only their id travels), plus an optional new rate row."""
    data = {
        "provider": model.provider_id,
        "slug": model.slug,
        "display_name": model.display_name,
        "description": "",
        "active": "on",
        "modality": model.modality,
        "context_length": model.context_length or "",
        "size_class": model.size_class,
        "min_tier": model.min_tier,
    }
    rates = list(model.rates.order_by("-effective_from"))
    data |= {"rates-TOTAL_FORMS": len(rates) + 1, "rates-INITIAL_FORMS": len(rates)}
    data |= {"rates-MIN_NUM_FORMS": 0, "rates-MAX_NUM_FORMS": 1000}
    for i, rate in enumerate(rates):
        data |= {f"rates-{i}-id": rate.pk, f"rates-{i}-model": model.pk}
        if rate in delete:
            data[f"rates-{i}-DELETE"] = "on"
        for name, value in (edit or {}).items():
            data[f"rates-{i}-{name}"] = value
    data[f"rates-{len(rates)}-model"] = model.pk
    for name, value in (new or {}).items():
        data[f"rates-{len(rates)}-{name}"] = value
    return client.post(f"/admin/models_catalog/aimodel/{model.pk}/change/", data)


def _when(moment) -> dict:
    return {"effective_from_0": f"{moment:%Y-%m-%d}", "effective_from_1": f"{moment:%H:%M:%S}"}


def test_staff_schedule_a_rate_change_inline(staff, model):
    client, user = staff
    start = (timezone.now() + timedelta(days=5)).replace(microsecond=0)
    response = _post(
        client, model, new={**_when(start), "input_per_mtok": "3", "output_per_mtok": "6"}
    )
    assert response.status_code == 302
    rate = model.rates.get(effective_from=start)
    assert (rate.input_per_mtok, rate.created_by) == (Decimal(3), user)


def test_rate_change_with_empty_date_takes_effect_now(staff, model):
    client, _ = staff
    _post(client, model, new={"input_per_mtok": "3", "output_per_mtok": "6"})
    rate = model.rates.order_by("-effective_from").first()
    assert rate.input_per_mtok == 3 and rate.effective_from <= timezone.now()


def test_past_dated_rate_change_is_a_form_error(staff, model):
    client, _ = staff
    past = timezone.now() - timedelta(days=2)
    response = _post(
        client, model, new={**_when(past), "input_per_mtok": "3", "output_per_mtok": "6"}
    )
    assert response.status_code == 200
    assert "cannot take effect in the past" in response.content.decode()
    assert model.rates.count() == 1


def test_text_rate_without_output_price_is_a_form_error(staff, model):
    client, _ = staff
    response = _post(client, model, new={"input_per_mtok": "3"})
    assert "needs input and output prices" in response.content.decode()
    assert model.rates.count() == 1


def test_admin_cannot_edit_a_rate(staff, model):
    client, _ = staff
    before = list(Rate.objects.values())
    response = _post(client, model, edit={"input_per_mtok": "99", "output_per_mtok": "99"})
    assert response.status_code == 302 and list(Rate.objects.values()) == before


def test_admin_cannot_delete_a_rate_that_has_taken_effect(staff, model):
    client, _ = staff
    response = _post(client, model, delete=list(model.rates.all()))
    assert "already taken effect" in response.content.decode()
    assert model.rates.count() == 1


def test_admin_can_withdraw_a_scheduled_rate(staff, model):
    client, _ = staff
    start = timezone.now() + timedelta(days=5)
    scheduled = Rate.objects.create(
        model=model, effective_from=start, input_per_mtok=3, output_per_mtok=6
    )
    assert _post(client, model, delete=[scheduled]).status_code == 302
    assert not model.rates.filter(pk=scheduled.pk).exists() and model.rates.count() == 1


def test_change_page_shows_rate_history_read_only(staff, model):
    client, _ = staff
    page = client.get(f"/admin/models_catalog/aimodel/{model.pk}/change/").content.decode()
    assert "In force" in page
    assert 'name="rates-0-input_per_mtok"' not in page and 'name="rates-1-input_per_mtok"' in page


def test_bulk_deactivate_and_activate(staff):
    client, _ = staff
    models = [AIModelFactory(), AIModelFactory()]
    ids = [m.pk for m in models]
    url = "/admin/models_catalog/aimodel/"
    client.post(url, {"action": "deactivate_models", "_selected_action": ids})
    assert not AIModel.objects.filter(active=True).exists()
    client.post(url, {"action": "activate_models", "_selected_action": ids})
    assert AIModel.objects.filter(active=True).count() == 2


def test_slug_must_belong_to_the_provider(staff, model):
    client, _ = staff
    model.slug = "other/chat"
    response = _post(client, model)
    assert "provider&#x27;s slug" in response.content.decode()
    assert AIModel.objects.get(pk=model.pk).slug == "acme/chat"


def test_rate_history_admin_is_read_only(staff, model):
    client, _ = staff
    rate = model.rates.get()
    assert client.get(f"/admin/models_catalog/rate/{rate.pk}/change/").status_code == 200
    assert client.post(f"/admin/models_catalog/rate/{rate.pk}/change/", {}).status_code == 403
    assert client.get(f"/admin/models_catalog/rate/{rate.pk}/delete/").status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "/admin/models_catalog/provider/?q=acme&active__exact=1",
        "/admin/models_catalog/aimodel/?q=chat&modality__exact=chat&min_tier__exact=free",
        "/admin/models_catalog/rate/?q=acme",
        "/admin/models_catalog/aimodel/add/",
    ],
)
def test_admin_lists_search_and_filter(staff, model, url):
    client, _ = staff
    assert client.get(url).status_code == 200


def test_staff_add_a_model_with_its_first_rate(staff):
    client, user = staff
    provider = ProviderFactory(slug="acme")
    response = client.post(
        "/admin/models_catalog/aimodel/add/",
        {
            "provider": provider.pk,
            "slug": "acme/painter",
            "display_name": "Painter",
            "active": "on",
            "modality": "image",
            "size_class": "medium",
            "min_tier": "basic",
            "rates-TOTAL_FORMS": 1,
            "rates-INITIAL_FORMS": 0,
            "rates-MIN_NUM_FORMS": 0,
            "rates-MAX_NUM_FORMS": 1000,
            "rates-0-unit_price": "0.05",
            "rates-0-unit": "image",
        },
    )
    assert response.status_code == 302
    rate = AIModel.objects.get(slug="acme/painter").rates.get()
    assert (rate.unit_price, rate.unit, rate.created_by) == (Decimal("0.05"), "image", user)
