from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from models_catalog import selectors, services
from models_catalog.models import Rate
from models_catalog.templatetags.catalog import price
from tests.factories import AIModelFactory
from yunxin.errors import ValidationFailed

pytestmark = pytest.mark.django_db

BEFORE, CHANGE = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 6, 1, 12, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.fixture
def repriced():
    """A model priced 2/8 from BEFORE, repriced to 1/4 at CHANGE (scheduled while in the
    past, so both rates exist before either takes effect)."""
    with time_machine.travel(BEFORE - timedelta(days=1), tick=False):
        model = AIModelFactory()
        services.rate_add(
            model=model, effective_from=BEFORE, input_per_mtok="2", output_per_mtok="8"
        )
        services.rate_add(
            model=model, effective_from=CHANGE, input_per_mtok="1", output_per_mtok="4"
        )
    return model


@pytest.mark.parametrize(
    ("at", "expected_input"),
    [
        (BEFORE - TICK, None),
        (BEFORE, "2"),
        (CHANGE - TICK, "2"),
        (CHANGE, "1"),
        (CHANGE + TICK, "1"),
    ],
)
def test_rate_in_force_is_the_latest_that_has_taken_effect(repriced, at, expected_input):
    rate = selectors.rate_in_force(model_id=repriced.pk, at=at)
    assert (rate.input_per_mtok if rate else None) == (
        Decimal(expected_input) if expected_input else None
    )


@pytest.mark.parametrize(
    ("at", "current", "scheduled"),
    [(CHANGE - TICK, "2", "1"), (CHANGE, "1", None), (CHANGE + timedelta(days=1), "1", None)],
)
def test_catalogue_lists_the_rate_in_force_and_the_next_change(repriced, at, current, scheduled):
    [model] = selectors.model_list(at=at)
    assert model.current_rate.input_per_mtok == Decimal(current)
    assert (model.next_rate.input_per_mtok if model.next_rate else None) == (
        Decimal(scheduled) if scheduled else None
    )


def test_api_price_switches_at_the_effective_moment(repriced, api_client):
    with time_machine.travel(CHANGE - timedelta(seconds=1), tick=False):
        before = api_client.get(f"/api/models/{repriced.slug}").json()
    with time_machine.travel(CHANGE, tick=False):
        after = api_client.get(f"/api/models/{repriced.slug}").json()
    assert before["pricing"]["input_per_mtok"] == "2.000000"
    assert before["scheduled_pricing"]["input_per_mtok"] == "1.000000"
    assert after["pricing"]["input_per_mtok"] == "1.000000" and after["scheduled_pricing"] is None


def test_future_rate_change_is_scheduled_without_touching_the_current_one(repriced):
    with time_machine.travel(CHANGE + timedelta(days=1), tick=False):
        services.rate_add(
            model=repriced,
            effective_from=CHANGE + timedelta(days=30),
            input_per_mtok="3",
            output_per_mtok="9",
        )
        assert selectors.rate_in_force(model_id=repriced.pk).input_per_mtok == Decimal(1)
    assert repriced.rates.count() == 3


def test_rate_change_in_the_past_is_refused(repriced):
    with pytest.raises(ValidationFailed, match="past"):
        services.rate_add(
            model=repriced,
            effective_from=timezone.now() - timedelta(hours=1),
            input_per_mtok="5",
            output_per_mtok="5",
        )
    assert repriced.rates.count() == 2


def test_two_rates_cannot_start_at_the_same_moment(repriced):
    with pytest.raises(ValidationFailed, match="already has a rate"):
        services.rate_add(
            model=repriced, effective_from=CHANGE, input_per_mtok="5", output_per_mtok="5"
        )


@pytest.mark.parametrize(
    ("modality", "prices"),
    [
        ("chat", {"input_per_mtok": "1"}),
        (
            "chat",
            {"input_per_mtok": "1", "output_per_mtok": "2", "unit_price": "1", "unit": "image"},
        ),
        ("image", {"unit_price": "0.04"}),
        ("image", {"unit_price": "0.04", "unit": "image", "input_per_mtok": "1"}),
        ("chat", {"input_per_mtok": "-1", "output_per_mtok": "2"}),
        ("chat", {"input_per_mtok": "0.0000001", "output_per_mtok": "2"}),
        ("chat", {"input_per_mtok": "cheap", "output_per_mtok": "2"}),
    ],
)
def test_rate_with_wrong_prices_for_its_modality_is_refused(modality, prices):
    model = AIModelFactory(modality=modality)
    with pytest.raises(ValidationFailed):
        services.rate_add(model=model, **prices)
    assert not Rate.objects.exists()


def test_scheduled_rate_can_be_withdrawn_but_not_one_in_force(repriced):
    with time_machine.travel(CHANGE - timedelta(days=1), tick=False):
        in_force, scheduled = repriced.rates.order_by("effective_from")
        with pytest.raises(ValidationFailed, match="already taken effect"):
            services.rate_cancel(rate_id=in_force.pk)
        services.rate_cancel(rate_id=scheduled.pk)
    assert list(repriced.rates.all()) == [in_force]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("2.5"), "2.50"),
        (Decimal("0.075000"), "0.075"),
        (Decimal("0.0001"), "0.0001"),
        (Decimal("1250"), "1,250.00"),
        (None, "—"),
    ],
)
def test_prices_are_shown_exactly_with_at_least_two_decimals(value, shown):
    assert price(value) == shown
