import re

import pytest
from django.core import mail

from accounts.models import Account, User

pytestmark = pytest.mark.django_db


def test_signup_creates_user_with_free_account_and_requires_email_confirmation(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "New@Example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email__iexact="new@example.com")
    assert Account.objects.get(owner=user).tier == "free"
    assert client.get("/").status_code == 302  # not logged in until the email is confirmed
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.post("/" + path).status_code == 302
    assert client.get("/").status_code == 200


def test_every_user_gets_exactly_one_account(django_user_model):
    user = django_user_model.objects.create_user(email="a@example.com", password="pw")
    user.save()
    assert Account.objects.filter(owner=user).count() == 1


def test_pages_need_login(client):
    for url in ["/", "/keys/", "/models/", "/analytics/", "/settings/billing/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
