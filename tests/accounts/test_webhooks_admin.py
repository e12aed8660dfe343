import pytest

from accounts.webhooks.models import WebhookDelivery
from tests.accounts.webhook_receiver import emit_depleted, make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="staff@yunxin.test", password="pw")
    client.force_login(user)
    return client


def test_staff_see_deliveries_and_endpoints_but_never_the_secret(staff, receiver):
    account, endpoint = make_endpoint(receiver)
    emit_depleted(account)
    delivery = WebhookDelivery.objects.get()
    for url in [
        "/admin/accounts/webhookendpoint/",
        f"/admin/accounts/webhookendpoint/{endpoint.pk}/change/",
        "/admin/accounts/webhookdelivery/",
        f"/admin/accounts/webhookdelivery/{delivery.pk}/change/",
        "/admin/accounts/webhookevent/",
    ]:
        response = staff.get(url)
        assert response.status_code == 200, url
        assert endpoint.secret not in response.content.decode()


def test_staff_redeliver_action_goes_through_the_service(
    staff, receiver, django_capture_on_commit_callbacks
):
    account, _ = make_endpoint(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        emit_depleted(account)
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(
            "/admin/accounts/webhookdelivery/",
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )
    assert len(receiver.verified) == 2 and WebhookDelivery.objects.get().attempt_count == 2
