import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.webhooks import delivery, services
from accounts.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.accounts.webhook_receiver import emit_depleted, make_endpoint
from tests.factories import make_account
from tests.yunxin.test_settings import PRODUCTION_ENV
from yunxin.errors import ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_rules(settings):
    """What production enforces (tests otherwise allow a receiver on loopback)."""
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    settings.WEBHOOKS_REQUIRE_HTTPS = True


def _deliver(account, django_capture_on_commit_callbacks) -> WebhookDelivery:
    with django_capture_on_commit_callbacks(execute=True):
        emit_depleted(account)
    return WebhookDelivery.objects.select_related("endpoint").get()


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "0.0.0.0",
        "169.254.169.254",
        "100.64.0.1",
        "100.100.100.200",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",
        "64:ff9b::a00:1",
        "ff02::1",
    ],
)
def test_private_and_special_addresses_are_refused(address):
    assert not delivery.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert delivery.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "http://example.com/hook",
        "https://user:pass@example.com/hook",
        "ftp://example.com/hook",
    ],
)
def test_private_ip_http_and_credential_urls_are_refused_when_saved(production_rules, url):
    with pytest.raises(ValidationFailed):
        services.webhook_endpoint_create(
            account=make_account("pro"), url=url, event_types=["credits.depleted"]
        )


def test_hostname_resolving_to_loopback_is_refused_at_connect_time(
    receiver, production_rules, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_REQUIRE_HTTPS = False  # so that only the address decides
    account, _ = make_endpoint(receiver, url=f"http://localhost:{receiver.port}/hook")
    item = _deliver(account, django_capture_on_commit_callbacks)
    attempt = item.attempts.get()
    assert "private, local or reserved" in attempt.error and attempt.status_code is None
    assert item.status == DeliveryStatus.FAILED and receiver.received == []


def test_https_name_resolving_to_loopback_is_refused_before_any_tls(
    receiver, production_rules, django_capture_on_commit_callbacks
):
    account, _ = make_endpoint(receiver, url=f"https://localhost:{receiver.port}/hook")
    item = _deliver(account, django_capture_on_commit_callbacks)
    assert "127.0.0.1" in item.attempts.get().error or "::1" in item.attempts.get().error
    assert receiver.received == []


def test_a_dns_change_after_saving_is_checked_on_every_attempt(
    receiver, production_rules, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The endpoint was saved with a public name; at send time it resolves to loopback."""
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    account, _ = make_endpoint(receiver, url=f"http://hooks.example.com:{receiver.port}/hook")
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host == "hooks.example.com" else host, *a, **k),
    )
    item = _deliver(account, django_capture_on_commit_callbacks)
    assert "refused" in item.attempts.get().error and receiver.received == []


def test_connects_to_the_checked_address_and_keeps_the_host_header(
    receiver, monkeypatch, django_capture_on_commit_callbacks
):
    account, _ = make_endpoint(receiver, url=f"http://hooks.example.com:{receiver.port}/hook")
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1", *a, **k))
    item = _deliver(account, django_capture_on_commit_callbacks)
    assert item.status == DeliveryStatus.SUCCEEDED
    assert receiver.received[0].headers["Host"] == f"hooks.example.com:{receiver.port}"


def test_redirects_are_not_followed(receiver, django_capture_on_commit_callbacks):
    receiver.script = [302]
    account, _ = make_endpoint(receiver)
    item = _deliver(account, django_capture_on_commit_callbacks)
    attempt = item.attempts.get()
    assert attempt.status_code == 302 and "not followed" in attempt.error
    assert item.status == DeliveryStatus.FAILED
    assert [r.path for r in receiver.received] == ["/hook"]


def test_production_refuses_to_start_with_private_addresses_allowed():
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    # Stripe keys in case PRODUCTION_ENV does not carry them (yet).
    stripe = {"STRIPE_SECRET_KEY": "sk_test_check", "STRIPE_WEBHOOK_SECRET": "whsec_check"}
    env |= (
        stripe
        | PRODUCTION_ENV
        | {
            "DJANGO_SETTINGS_MODULE": "yunxin.settings",
            "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "1",
        }
    )
    env.pop("YUNXIN_TESTING", None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES" in result.stderr
