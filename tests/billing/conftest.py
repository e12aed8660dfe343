from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import EntryKind, LotKind
from billing.money import parse_credits
from billing.services import ledger
from models_catalog.models import AIModel, Provider
from models_catalog.services import rate_add

METERING_TOKEN = "test-metering-token"


def make_model(slug: str, *, min_tier: str = "free", modality: str = "chat", **prices) -> AIModel:
    provider, _ = Provider.objects.get_or_create(
        slug=slug.split("/")[0], defaults={"name": slug.split("/")[0].title()}
    )
    model = AIModel.objects.create(
        provider=provider, slug=slug, display_name=slug, modality=modality, min_tier=min_tier
    )
    rate_add(
        model=model, effective_from=timezone.now() - timedelta(days=30), allow_past=True, **prices
    )
    return model


@pytest.fixture(autouse=True)
def _metering_token(settings):
    settings.METERING_SERVICE_TOKEN = METERING_TOKEN


@pytest.fixture
def chat_model(db) -> AIModel:
    # 2 credits per 1M input tokens, 8 per 1M output, reasoning 10, cached input 0.5.
    return make_model(
        "acme/chat-small",
        input_per_mtok="2",
        output_per_mtok="8",
        reasoning_per_mtok="10",
        cached_input_per_mtok="0.5",
    )


@pytest.fixture
def pro_model(db) -> AIModel:
    return make_model("acme/chat-pro", min_tier="pro", input_per_mtok="5", output_per_mtok="15")


@pytest.fixture
def image_model(db) -> AIModel:
    return make_model("acme/image", modality="image", unit_price="0.04", unit="image")


def fund(account, credits: str, kind: str = LotKind.GRANT) -> None:
    """Give an account credits through the ledger (grant by default)."""
    amount = parse_credits(credits)
    if kind == LotKind.GRANT:
        ledger.credits_grant(account_id=account.pk, amount=amount, reason="test funds", actor=None)
        return
    from django.db import transaction

    with transaction.atomic():
        locked = ledger.lock_account(account.pk)
        ledger.credit_account(
            locked,
            kind=EntryKind.PURCHASE,
            lot_kind=kind,
            amount=amount,
            reference="test-purchase",
            memo="test purchase",
            actor=None,
        )


@pytest.fixture
def meter() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {METERING_TOKEN}")
    return client


def assert_ledger_ok() -> None:
    call_command("check_ledger")


__all__ = ["Decimal", "assert_ledger_ok", "fund", "make_model"]


# --- Stripe ------------------------------------------------------------------------------


class RecordingStripe:
    """The real `stripe` SDK with the simulator answering as its HTTP client, recording
    every request the SDK sends (method, path, form params, headers)."""

    def __init__(self) -> None:
        import stripe

        from billing.stripe_simulator import SimulatorHTTPClient, decode_form

        recorder = self

        class Recording(SimulatorHTTPClient):
            def request(self, method, url, headers, post_data=None, *, _usage=None):
                from urllib.parse import urlsplit

                body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
                recorder.requests.append(
                    {
                        "method": method,
                        "path": urlsplit(url).path,
                        "headers": dict(headers or {}),
                        "params": decode_form(body if method == "post" else urlsplit(url).query),
                    }
                )
                if recorder.fail_next:
                    recorder.fail_next -= 1
                    return '{"error": {"type": "api_error", "message": "boom"}}', 500, {}
                return super().request(method, url, headers, post_data, _usage=_usage)

        self.requests: list[dict] = []
        self.undelivered: list[str] = []

        self.fail_next = 0
        self.client = stripe.StripeClient("sk_test_recording", http_client=Recording())

    def last(self, path: str) -> dict:
        return [r for r in self.requests if r["path"] == path][-1]


@pytest.fixture
def stripe_fake(monkeypatch, settings) -> RecordingStripe:
    from billing import stripe_gateway
    from billing.tasks import simulator_deliver_event

    fake = RecordingStripe()
    monkeypatch.setattr(stripe_gateway, "client", lambda: fake.client)
    # The simulator's own event deliveries are not sent in these tests: they post their
    # events through the endpoint themselves, signed, when they want them.
    monkeypatch.setattr(simulator_deliver_event, "delay", fake.undelivered.append)
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return fake


WEBHOOK_SECRET = "whsec_test_secret"


def signed_event(
    event_type: str, obj: dict, *, event_id: str | None = None, timestamp=None
) -> tuple[str, str]:
    """(payload, Stripe-Signature header), signed exactly as Stripe signs."""
    import json
    import secrets
    import time

    import stripe

    payload = json.dumps(
        {
            "id": event_id or f"evt_test{secrets.token_hex(8)}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
            "api_version": "2025-10-29",
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(
        payload, WEBHOOK_SECRET, timestamp=timestamp
    )
    return payload, header


def post_event(client, payload: str, header: str):
    return client.post(
        "/billing/stripe/webhook/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
