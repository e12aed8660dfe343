import pytest
from django.contrib import admin

from tests.billing.conftest import fund

pytestmark = pytest.mark.django_db


def test_every_admin_list_and_the_account_page_render(client, account, django_user_model):
    fund(account, "3")
    staff = django_user_model.objects.create_superuser(email="ops@yunxin.test", password="pw")
    client.force_login(staff)
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
    page = client.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    assert "8.00" in page  # balance shown in credits
    ledger = client.get("/admin/billing/ledgerentry/").content.decode()
    assert "3.00" in ledger and "8.00" in ledger
