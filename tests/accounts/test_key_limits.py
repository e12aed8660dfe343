from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey
from tests.factories import make_account, make_key
from yunxin.errors import ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, account):
    client.force_login(account.owner)
    return client


def test_create_key_with_limit_period_and_expiry_on_page(logged_in, account):
    response = logged_in.post(
        "/keys/",
        {
            "name": "ci",
            "credit_limit": "12.5",
            "limit_period": "monthly",
            "expires_at": "2099-01-01T00:00",
        },
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(account=account)
    assert (key.credit_limit, key.limit_period) == (12_500_000, "monthly")
    assert key.expires_at.year == 2099
    assert "0.00 of 12.50" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"credit_limit": "-1"}, "more than 0"),
        ({"credit_limit": "abc"}, "not a number"),
        ({"credit_limit": "", "limit_period": "daily"}, "needs a credit limit"),
        ({"expires_at": "2001-01-01T00:00"}, "in the future"),
    ],
)
def test_bad_limits_are_form_errors_and_create_nothing(logged_in, data, error):
    response = logged_in.post("/keys/", {"name": "x", **data})
    assert error in response.content.decode()
    assert not ApiKey.objects.exists()


def test_set_limits_from_the_page_with_htmx(logged_in, account):
    key, _ = make_key(account)
    response = logged_in.post(
        f"/keys/{key.pk}/limits/",
        {"credit_limit": "3", "limit_period": "daily"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "0.00 of 3.00" in response.content.decode()
    key.refresh_from_db()
    assert (key.credit_limit, key.limit_period) == (3_000_000, "daily")


def test_another_accounts_key_limits_are_404(logged_in):
    other, _ = make_key(make_account("pro"))
    assert logged_in.post(f"/keys/{other.pk}/limits/", {"credit_limit": "1"}).status_code == 404


def test_new_period_starts_counting_afresh(account):
    key, _ = make_key(account)
    ApiKey.objects.filter(pk=key.pk).update(period_spent=900)
    key = services.api_key_set_limits(
        account=account, key_id=key.pk, credit_limit=1000, limit_period="weekly", expires_at=None
    )
    assert key.period_spent == 0


def test_expiry_in_the_past_is_refused(account):
    with pytest.raises(ValidationFailed):
        services.api_key_create(
            account=account,
            name="x",
            created_by=None,
            expires_at=timezone.now() - timedelta(minutes=1),
        )
