import pytest
from django.test import Client

from accounts.webhooks import services
from accounts.webhooks.models import WebhookEndpoint
from tests.accounts.webhook_receiver import emit_depleted, make_endpoint
from tests.factories import make_account

pytestmark = pytest.mark.django_db

NEW_ENDPOINT = {
    "url": "https://hooks.example.com/yunxin",
    "description": "billing",
    "event_types": ["credits.depleted", "refund.failed"],
}


def logged_in(account) -> Client:
    client = Client()
    client.force_login(account.owner)
    return client


@pytest.fixture
def pro():
    return make_account("pro")


@pytest.mark.parametrize("tier", ["free", "basic"])
def test_free_and_basic_see_what_webhooks_give_and_an_upgrade_link(tier):
    page = logged_in(make_account(tier)).get("/settings/webhooks/").content.decode()
    assert "Webhooks come with Pro and above" in page
    assert 'href="/settings/billing/"' in page and "credits.low_balance" in page


def test_free_account_cannot_post_an_endpoint(client):
    account = make_account("free")
    response = logged_in(account).post("/settings/webhooks/", NEW_ENDPOINT)
    assert response.status_code == 403 and not WebhookEndpoint.objects.exists()


def test_add_endpoint_without_javascript_redirects_to_its_page(pro):
    response = logged_in(pro).post("/settings/webhooks/", NEW_ENDPOINT)
    endpoint = WebhookEndpoint.objects.get(account=pro)
    assert response.status_code == 302 and response.url == f"/settings/webhooks/{endpoint.pk}/"
    assert endpoint.event_types == ["credits.depleted", "refund.failed"]


def test_htmx_add_renders_only_the_panel(pro):
    response = logged_in(pro).post("/settings/webhooks/", NEW_ENDPOINT, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="webhooks-panel">') and "<html" not in page
    assert "hooks.example.com/yunxin" in page and "Endpoint added" in page


def test_bad_url_is_a_form_error(pro):
    page = logged_in(pro).post("/settings/webhooks/", {**NEW_ENDPOINT, "url": "ftp://x.example"})
    assert "Enter a valid URL" in page.content.decode() or "https://" in page.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_another_accounts_endpoint_pages_are_404(pro):
    other = make_account("pro")
    endpoint = services.webhook_endpoint_create(
        account=other, url="https://o.example/h", event_types=["credits.depleted"]
    )
    client = logged_in(pro)
    for url in ["", "secret/", "deliveries/"]:
        assert client.get(f"/settings/webhooks/{endpoint.pk}/{url}").status_code == 404
    for url in ["", "rotate/", "test/", "enabled/", "delete/"]:
        assert client.post(f"/settings/webhooks/{endpoint.pk}/{url}").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_reveal_secret_with_htmx(pro):
    endpoint = services.webhook_endpoint_create(
        account=pro, url="https://o.example/h", event_types=["credits.depleted"]
    )
    client = logged_in(pro)
    assert endpoint.secret not in client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    response = client.get(f"/settings/webhooks/{endpoint.pk}/secret/", HTTP_HX_REQUEST="true")
    assert endpoint.secret in response.content.decode()
    assert "no-cache" in response["Cache-Control"]


def test_edit_with_htmx_saves(pro):
    endpoint = services.webhook_endpoint_create(
        account=pro, url="https://o.example/h", event_types=["credits.depleted"]
    )
    data = {**NEW_ENDPOINT, "url": "https://new.example/h"}
    response = logged_in(pro).post(
        f"/settings/webhooks/{endpoint.pk}/", data, HTTP_HX_REQUEST="true"
    )
    assert "Saved" in response.content.decode()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == "https://new.example/h"


def test_send_test_event_then_the_panel_shows_the_attempt(
    receiver, django_capture_on_commit_callbacks
):
    account, endpoint = make_endpoint(receiver)
    client = logged_in(account)
    with django_capture_on_commit_callbacks(execute=True):  # the worker sends after commit
        sent = client.post(f"/settings/webhooks/{endpoint.pk}/test/", HTTP_HX_REQUEST="true")
    page = sent.content.decode()
    assert page.lstrip().startswith('<section class="card" id="webhook-deliveries"')
    assert "webhook.test" in page and 'hx-trigger="load delay:3s"' in page  # refreshes
    refreshed = client.get(f"/settings/webhooks/{endpoint.pk}/deliveries/", HTTP_HX_REQUEST="true")
    page = refreshed.content.decode()
    assert "Delivered" in page and "#1" in page and "hx-trigger" not in page
    assert len(receiver.verified) == 1


def test_redeliver_from_the_page(receiver, django_capture_on_commit_callbacks):
    account, endpoint = make_endpoint(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        emit_depleted(account)
    delivery = endpoint.deliveries.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in(account).post(
            f"/settings/webhooks/deliveries/{delivery.pk}/redeliver/"
        )
    assert response.status_code == 302
    assert len(receiver.verified) == 2


def test_disable_and_delete_without_javascript(pro):
    endpoint = services.webhook_endpoint_create(
        account=pro, url="https://o.example/h", event_types=["credits.depleted"]
    )
    client = logged_in(pro)
    client.post(f"/settings/webhooks/{endpoint.pk}/enabled/", {"enabled": "0"})
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).status == "disabled"
    response = client.post(f"/settings/webhooks/{endpoint.pk}/delete/")
    assert response.url == "/settings/webhooks/" and not WebhookEndpoint.objects.exists()


def test_low_balance_threshold_form(pro):
    response = logged_in(pro).post(
        "/settings/webhooks/settings/", {"low_balance_threshold": "7.5"}, HTTP_HX_REQUEST="true"
    )
    assert "Saved" in response.content.decode()
    pro.refresh_from_db()
    assert pro.webhook_low_balance_threshold == 7_500_000


def test_forms_keep_csrf_protection(pro):
    client = Client(enforce_csrf_checks=True)
    client.force_login(pro.owner)
    assert client.post("/settings/webhooks/", NEW_ENDPOINT).status_code == 403


def test_nav_links_to_webhooks(pro):
    page = logged_in(pro).get("/").content.decode()
    assert 'href="/settings/webhooks/"' in page


@pytest.mark.parametrize("n_deliveries", [2, 20])
def test_endpoint_page_runs_bounded_queries(receiver, n_deliveries, django_assert_max_num_queries):
    account, endpoint = make_endpoint(receiver)
    for _ in range(n_deliveries):
        emit_depleted(account)
    client = logged_in(account)
    with django_assert_max_num_queries(10):
        assert client.get(f"/settings/webhooks/{endpoint.pk}/").status_code == 200
