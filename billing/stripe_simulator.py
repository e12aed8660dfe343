"""Offline Stripe simulator (development only: active when STRIPE_SECRET_KEY is unset).

It answers the few Stripe API calls the portal makes, as a `stripe` SDK HTTP client, so
the SDK code path is the real one; keeps its objects in the database (shared by the web
process and workers); shows a clearly labelled hosted checkout and customer portal; and
sends Stripe-shaped events, signed with STRIPE_WEBHOOK_SECRET exactly as Stripe signs
them, to the portal's own webhook endpoint over HTTP (from a Celery task, like Stripe).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from stripe import HTTPClient

from billing.models import SimulatorObject, SubscriptionPlan

PERIOD_SECONDS = 30 * 24 * 3600


# --- storage ---------------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return f"{prefix}_sim{secrets.token_hex(10)}"


def get(object_id: str) -> dict | None:
    obj = SimulatorObject.objects.filter(pk=object_id).first()
    return obj.data if obj else None


def put(data: dict) -> dict:
    SimulatorObject.objects.update_or_create(
        pk=data["id"], defaults={"kind": data["object"], "data": data}
    )
    return data


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


# --- form decoding (Stripe's nested bracket encoding) ----------------------------------


def decode_form(body: str) -> dict:
    """`a[b][0][c]=1` -> {"a": {"b": [{"c": "1"}]}}."""
    result: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(result)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


# --- API ---------------------------------------------------------------------------------


class StripeError(Exception):
    def __init__(self, status: int, message: str, code: str = "resource_missing") -> None:
        self.status, self.message, self.code = status, message, code


def handle(method: str, path: str, params: dict, idempotency_key: str | None) -> dict:
    """Answer one Stripe API call, as Stripe would (same idempotency semantics)."""
    if idempotency_key and method == "post":
        stored = get(f"idem_{idempotency_key}")
        if stored:
            return stored["response"]
    response = _route(method, path, params)
    if idempotency_key and method == "post":
        put({"id": f"idem_{idempotency_key}", "object": "idempotency", "response": response})
    return response


def _route(method: str, path: str, params: dict) -> dict:
    routes = [
        ("post", r"/v1/customers", _create_customer),
        ("post", r"/v1/checkout/sessions", _create_checkout),
        ("post", r"/v1/billing_portal/sessions", _create_portal),
        ("post", r"/v1/refunds", _create_refund),
        ("get", r"/v1/refunds", _list_refunds),
        (
            "get",
            r"/v1/(checkout/sessions|subscriptions|payment_intents|refunds)/([^/]+)",
            _retrieve,
        ),
    ]
    for verb, pattern, fn in routes:
        match = re.fullmatch(pattern, path)
        if verb == method and match:
            return fn(params, *match.groups())
    raise StripeError(404, f"Unrecognized request URL ({method.upper()}: {path}).")


def _create_customer(params: dict) -> dict:
    return put(
        {
            "id": _new_id("cus"),
            "object": "customer",
            "email": params.get("email"),
            "metadata": params.get("metadata", {}),
        }
    )


def _create_checkout(params: dict) -> dict:
    session_id = _new_id("cs_test")
    mode = params.get("mode", "payment")
    items = params.get("line_items", [])
    if mode == "payment":
        amount = sum(int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)) for i in items)
        currency = items[0]["price_data"]["currency"] if items else "usd"
        name = items[0]["price_data"]["product_data"]["name"] if items else "Credits"
    else:
        plan = SubscriptionPlan.objects.filter(stripe_price_id=items[0]["price"]).first()
        if plan is None:
            raise StripeError(400, f"No such price: '{items[0]['price']}'", "resource_missing")
        amount, currency, name = plan.amount, plan.currency, f"{plan.get_tier_display()} monthly"
    return put(
        {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": currency,
            "customer": params.get("customer"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "line_items_summary": name,
            "subscription_data": params.get("subscription_data", {}),
            "price": items[0].get("price") if items else None,
            "payment_intent": None,
            "subscription": None,
            "success_url": params.get("success_url", "").replace(
                "{CHECKOUT_SESSION_ID}", session_id
            ),
            "cancel_url": params.get("cancel_url", ""),
            "url": _site(reverse("stripe_simulator_checkout", args=[session_id])),
            "created": int(time.time()),
        }
    )


def _create_portal(params: dict) -> dict:
    portal_id = _new_id("bps")
    return put(
        {
            "id": portal_id,
            "object": "billing_portal.session",
            "customer": params["customer"],
            "return_url": params.get("return_url", ""),
            "url": _site(reverse("stripe_simulator_portal", args=[portal_id])),
        }
    )


def _create_refund(params: dict) -> dict:
    intent = get(params.get("payment_intent", ""))
    if intent is None:
        raise StripeError(404, f"No such payment_intent: '{params.get('payment_intent')}'")
    amount = int(params["amount"])
    refunded = sum(int(r["amount"]) for r in intent.get("refunds", []))
    if amount <= 0 or refunded + amount > intent["amount"]:
        raise StripeError(
            400, "Refund amount is greater than the unrefunded amount.", "charge_already_refunded"
        )
    refund = put(
        {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "status": get_sim_setting("refund_outcome", "succeeded"),
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
        }
    )
    intent.setdefault("refunds", []).append({"id": refund["id"], "amount": amount})
    put(intent)
    send_event("refund.created", refund)
    if refund["status"] == "succeeded":
        send_event("charge.refunded", _charge(intent))
    return refund


def _list_refunds(params: dict) -> dict:
    intent = get(params.get("payment_intent", "")) or {}
    data = [get(r["id"]) for r in intent.get("refunds", [])]
    return {"object": "list", "data": data, "has_more": False, "url": "/v1/refunds"}


def _charge(intent: dict) -> dict:
    refunded = sum(r["amount"] for r in intent.get("refunds", []))
    return {
        "id": intent["charge"],
        "object": "charge",
        "payment_intent": intent["id"],
        "amount": intent["amount"],
        "amount_refunded": refunded,
        "refunded": refunded >= intent["amount"],
    }


@transaction.atomic
def dashboard_refund(payment_intent_id: str, amount: int) -> dict:
    """A refund made by staff in Stripe's own dashboard (not through the portal)."""
    intent = get(payment_intent_id)
    refund = put(
        {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "status": "succeeded",
            "metadata": {},
            "created": int(time.time()),
        }
    )
    intent.setdefault("refunds", []).append({"id": refund["id"], "amount": amount})
    put(intent)
    send_event("charge.refunded", _charge(intent))
    return refund


@transaction.atomic
def resolve_refund(refund_id: str, outcome: str) -> dict:
    """The bank's answer to a pending refund: "succeeded" or "failed"."""
    refund = get(refund_id)
    if refund and refund["status"] == "pending":
        refund["status"] = outcome
        if outcome == "failed":
            refund["failure_reason"] = "lost_or_stolen_card"
        put(refund)
        send_event("refund.failed" if outcome == "failed" else "refund.updated", refund)
        if outcome == "succeeded":
            send_event("charge.refunded", _charge(get(refund["payment_intent"])))
    return refund or {}


def _retrieve(params: dict, kind: str, object_id: str) -> dict:
    obj = get(object_id)
    if obj is None:
        raise StripeError(404, f"No such {kind.split('/')[-1].rstrip('s')}: '{object_id}'")
    if kind == "payment_intents":
        obj = {
            **obj,
            "latest_charge": {
                "id": obj["charge"],
                "object": "charge",
                "receipt_url": obj["receipt_url"],
            },
        }
    return obj


def get_sim_setting(name: str, default: str) -> str:
    stored = get(f"simsetting_{name}")
    return stored["value"] if stored else default


def set_sim_setting(name: str, value: str) -> None:
    put({"id": f"simsetting_{name}", "object": "simulator.setting", "value": value})


class SimulatorHTTPClient(HTTPClient):
    """The stripe SDK's HTTP client, answering in-process from the simulator."""

    name = "yunxin-simulator"

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        params = decode_form(body if method == "post" else parts.query)
        key = (headers or {}).get("Idempotency-Key")
        try:
            with transaction.atomic():
                data, status = handle(method, parts.path, params, key), 200
        except StripeError as exc:
            data = {
                "error": {"type": "invalid_request_error", "code": exc.code, "message": exc.message}
            }
            status = exc.status
        return json.dumps(data), status, {"request-id": _new_id("req")}

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise NotImplementedError("The simulator does not stream")

    def close(self) -> None:
        return None


# --- what a customer does on the hosted pages -------------------------------------------


def send_event(event_type: str, obj: dict) -> dict:
    """Record a Stripe-shaped event and have a worker deliver it, signed, after commit."""
    from billing.tasks import simulator_deliver_event

    event = put(
        {
            "id": _new_id("evt"),
            "object": "event",
            "type": event_type,
            "api_version": "2025-10-29",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
            "pending_webhooks": 1,
        }
    )
    transaction.on_commit(lambda: simulator_deliver_event.delay(event["id"]))
    return event


@transaction.atomic
def checkout_pay(session_id: str, outcome: str) -> dict:
    """outcome: "card" (paid at once), "async_success" / "async_fail" (bank debit)."""
    session = get(session_id)
    if session is None or session["status"] != "open":
        raise StripeError(400, "This checkout session is no longer open.")
    session["status"] = "complete"
    if session["mode"] == "subscription":
        return _complete_subscription_checkout(session)
    intent = put(
        {
            "id": _new_id("pi"),
            "object": "payment_intent",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "status": "succeeded",
            "charge": _new_id("ch"),
            "receipt_url": _site(reverse("stripe_simulator_receipt", args=[session_id])),
            "metadata": session["metadata"],
        }
    )
    session["payment_intent"] = intent["id"]
    session["payment_status"] = "paid" if outcome == "card" else "unpaid"
    put(session)
    send_event("checkout.session.completed", session)
    if outcome != "card":
        session["payment_status"] = "paid" if outcome == "async_success" else "unpaid"
        put(session)
        kind = "succeeded" if outcome == "async_success" else "failed"
        send_event(f"checkout.session.async_payment_{kind}", session)
    return session


def _complete_subscription_checkout(session: dict) -> dict:
    now = int(time.time())
    sub = put(
        {
            "id": _new_id("sub"),
            "object": "subscription",
            "customer": session["customer"],
            "status": "active",
            "cancel_at_period_end": False,
            "current_period_end": now + PERIOD_SECONDS,
            "metadata": session["subscription_data"].get("metadata", session["metadata"]),
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": _new_id("si"),
                        "price": {"id": session["price"]},
                        "current_period_end": now + PERIOD_SECONDS,
                    }
                ],
            },
        }
    )
    session.update(subscription=sub["id"], payment_status="paid")
    put(session)
    send_event("customer.subscription.created", sub)
    send_event("checkout.session.completed", session)
    send_event("invoice.paid", _invoice(sub, "paid"))
    return session


@transaction.atomic
def checkout_cancel(session_id: str) -> dict:
    session = get(session_id)
    if session and session["status"] == "open":
        session["status"] = "expired"
        put(session)
        send_event("checkout.session.expired", session)
    return session or {}


def _invoice(sub: dict, status: str) -> dict:
    price = sub["items"]["data"][0]["price"]["id"]
    plan = SubscriptionPlan.objects.filter(stripe_price_id=price).first()
    return {
        "id": _new_id("in"),
        "object": "invoice",
        "customer": sub["customer"],
        "subscription": sub["id"],
        "status": status,
        "amount_paid": plan.amount if plan and status == "paid" else 0,
        "parent": {"subscription_details": {"subscription": sub["id"]}},
    }


def customer_subscription(customer_id: str) -> dict | None:
    subs = SimulatorObject.objects.filter(kind="subscription", data__customer=customer_id)
    live = [s.data for s in subs.order_by("-created_at") if s.data["status"] != "canceled"]
    return live[0] if live else None


@transaction.atomic
def portal_action(customer_id: str, action: str, price_id: str = "") -> dict | None:
    """What a customer does in the hosted customer portal, plus a few buttons that make
    time pass (renewal, a failed renewal, the end of the period) for demonstrations."""
    sub = customer_subscription(customer_id)
    if sub is None:
        return None
    item = sub["items"]["data"][0]
    if action == "switch" and price_id:
        item["price"] = {"id": price_id}
    elif action == "cancel":
        sub["cancel_at_period_end"] = True
    elif action == "resume":
        sub["cancel_at_period_end"] = False
    elif action == "renew":
        sub["status"] = "active"
        sub["current_period_end"] = item["current_period_end"] = (
            sub["current_period_end"] + PERIOD_SECONDS
        )
        put(sub)
        send_event("invoice.paid", _invoice(sub, "paid"))
    elif action == "fail_renewal":
        sub["status"] = "past_due"
        put(sub)
        send_event("invoice.payment_failed", _invoice(sub, "open"))
    elif action == "end_period":
        if sub["cancel_at_period_end"] or sub["status"] in ("past_due", "unpaid"):
            sub["status"] = "canceled"
            put(sub)
            send_event("customer.subscription.deleted", sub)
            return sub
    put(sub)
    send_event("customer.subscription.updated", sub)
    return sub


def deliver(event_id: str) -> int:
    """POST the event, signed now (as Stripe signs at delivery), to the webhook endpoint."""
    import urllib.request

    import stripe

    event = get(event_id)
    payload = json.dumps(event)
    signature = stripe.WebhookSignature.generate_signature_header(
        payload, settings.STRIPE_WEBHOOK_SECRET
    )
    request = urllib.request.Request(  # noqa: S310 - our own SITE_URL, http(s)
        _site(reverse("stripe_webhook")),
        data=payload.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Stripe-Signature": signature},
    )
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - our own URL
        return response.status
