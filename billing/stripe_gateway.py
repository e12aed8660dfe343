"""The one module that talks to Stripe, through the official SDK's StripeClient.

Offline (no STRIPE_SECRET_KEY) the client is given the simulator as its HTTP client, so
every call still goes through the SDK: the same request building, idempotency keys and
response parsing as with real Stripe. No call here is ever made inside a transaction.
"""

from __future__ import annotations

from functools import cache

import stripe
from django.conf import settings

SIMULATOR_API_KEY = "sk_test_yunxin_simulator"


@cache
def _client(api_key: str, api_base: str, simulator: bool) -> stripe.StripeClient:
    options: dict = {"max_network_retries": 2}
    if api_base:
        options["base_addresses"] = {"api": api_base}
    if simulator:
        from billing.stripe_simulator import SimulatorHTTPClient

        options["http_client"] = SimulatorHTTPClient()
        options.pop("max_network_retries")
    return stripe.StripeClient(api_key, **options)


def client() -> stripe.StripeClient:
    simulator = settings.STRIPE_SIMULATOR and not settings.STRIPE_API_BASE
    api_key = settings.STRIPE_SECRET_KEY or SIMULATOR_API_KEY
    return _client(api_key, settings.STRIPE_API_BASE, simulator)


def create_customer(*, account_id: int, email: str) -> str:
    customer = client().v1.customers.create(
        params={"email": email, "metadata": {"account_id": str(account_id)}},
        options={"idempotency_key": f"yunxin-customer-{account_id}"},
    )
    return customer.id


def create_payment_checkout(
    *,
    purchase_id: int,
    account_id: int,
    customer_id: str,
    name: str,
    credits: str,
    amount: int,
    currency: str,
    success_url: str,
    cancel_url: str,
) -> stripe.checkout.Session:
    metadata = {"purchase_id": str(purchase_id), "account_id": str(account_id), "credits": credits}
    return client().v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "customer": customer_id,
            "client_reference_id": str(account_id),
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": amount,
                        "product_data": {"name": name},
                    },
                }
            ],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
        options={"idempotency_key": f"yunxin-purchase-{purchase_id}-checkout"},
    )


def create_subscription_checkout(
    *,
    account_id: int,
    customer_id: str,
    price_id: str,
    tier: str,
    success_url: str,
    cancel_url: str,
    attempt: str,
) -> stripe.checkout.Session:
    metadata = {"account_id": str(account_id), "tier": tier}
    return client().v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(account_id),
            "line_items": [{"price": price_id, "quantity": 1}],
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
        options={"idempotency_key": f"yunxin-subscribe-{account_id}-{attempt}"},
    )


def retrieve_checkout(session_id: str) -> stripe.checkout.Session:
    return client().v1.checkout.sessions.retrieve(session_id)


def retrieve_subscription(subscription_id: str) -> stripe.Subscription:
    return client().v1.subscriptions.retrieve(subscription_id)


def retrieve_payment_intent(payment_intent_id: str) -> stripe.PaymentIntent:
    return client().v1.payment_intents.retrieve(
        payment_intent_id, params={"expand": ["latest_charge"]}
    )


def create_portal_session(*, customer_id: str, return_url: str) -> str:
    session = client().v1.billing_portal.sessions.create(
        params={"customer": customer_id, "return_url": return_url}
    )
    return session.url


def create_refund(
    *, payment_intent_id: str, amount: int, refund_id: int, reason: str
) -> stripe.Refund:
    return client().v1.refunds.create(
        params={
            "payment_intent": payment_intent_id,
            "amount": amount,
            "reason": "requested_by_customer",
            "metadata": {"yunxin_refund_id": str(refund_id), "note": reason[:400]},
        },
        options={"idempotency_key": f"yunxin-refund-{refund_id}"},
    )


def retrieve_refund(refund_id: str) -> dict:
    return client().v1.refunds.retrieve(refund_id).to_dict()


def list_refunds(*, payment_intent_id: str) -> list[dict]:
    page = client().v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100})
    return [r.to_dict() for r in page.data]


def construct_event(payload: bytes, signature: str) -> stripe.Event:
    """Verify a webhook's Stripe-Signature against the raw body (raises on mismatch)."""
    return stripe.Webhook.construct_event(
        payload,
        signature,
        settings.STRIPE_WEBHOOK_SECRET,
        tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    )
