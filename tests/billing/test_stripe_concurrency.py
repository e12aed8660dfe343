"""Races and real processes for purchases and refunds (PostgreSQL, Redis)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connections, transaction

from accounts.models import Account
from billing import stripe_simulator as sim
from billing.models import CreditLot, CreditPack, Purchase, Refund
from billing.services import metering, purchases, refunds
from models_catalog.pricing import Usage
from tests.billing.conftest import WEBHOOK_SECRET, assert_ledger_ok, make_model
from tests.conftest import in_threads, wait_for
from tests.factories import make_account, make_key


def _paid_purchase(account, credits=20_000_000, price=2_000) -> Purchase:
    pack = CreditPack.objects.create(name="P", credits=credits, price=price)
    purchase, _ = purchases.purchase_start(
        account=account, pack_id=pack.pk, success_url="http://x/", cancel_url="http://x/"
    )
    sim.checkout_pay(purchase.checkout_session_id, "card")
    return purchase


def test_webhook_and_success_page_at_once_add_one_lot(services, transactional_db, stripe_fake):
    account = make_account("free")
    purchase = _paid_purchase(account)
    results = in_threads(
        12, lambda i: purchases.checkout_fulfil(session_id=purchase.checkout_session_id)
    )
    assert all(isinstance(r, Purchase) for r in results), results
    assert CreditLot.objects.filter(kind="purchase").count() == 1
    assert Account.objects.get(pk=account.pk).balance == 25_000_000
    assert_ledger_ok()


def test_spending_and_refund_racing_on_one_lot_never_use_a_credit_twice(
    services, transactional_db, stripe_fake, settings
):
    settings.REFUND_AUTO_APPROVE = False  # the hold is what races; Stripe comes later
    make_model("acme/chat", input_per_mtok="1", output_per_mtok="1000000")  # 1 credit per token
    account = make_account("enterprise")
    purchase = _paid_purchase(account)
    purchases.checkout_fulfil(session_id=purchase.checkout_session_id)  # 5 starter + 20 = 25

    _, secret = make_key(account)

    def work(i: int):
        if i % 10 == 0:
            return refunds.refund_request(
                account=account,
                purchase_id=purchase.pk,
                credits=12_000_000,
                idempotency_key=f"r{i}",
            )
        return metering.usage_record(
            request_id=f"u{i}", api_key=secret, model="acme/chat", usage=Usage(output_tokens=1)
        )

    results = in_threads(40, work)
    spent = sum(r.event.cost for r in results if isinstance(r, metering.Charged))
    held = sum(r.credits for r in results if isinstance(r, Refund))
    account.refresh_from_db()
    assert spent + held <= 25_000_000
    assert account.balance == 25_000_000 - spent and account.held == held
    assert CreditLot.objects.get(kind="purchase").held == held
    assert_ledger_ok()


class _StripeHandler(BaseHTTPRequestHandler):
    """A local Stripe API: the simulator's answers over real HTTP, for the SDK in another
    process (a Celery worker)."""

    def _answer(self, method: str) -> None:
        from urllib.parse import urlsplit

        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        parts = urlsplit(self.path)
        params = sim.decode_form(body if method == "post" else parts.query)
        try:
            with transaction.atomic():
                data, status = (
                    sim.handle(method, parts.path, params, self.headers.get("Idempotency-Key")),
                    200,
                )
        except sim.StripeError as exc:
            data, status = (
                {"error": {"type": "invalid_request_error", "message": exc.message}},
                exc.status,
            )
        finally:
            connections.close_all()
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        type(self).calls.append((method, parts.path, self.headers.get("Idempotency-Key")))

    def do_POST(self) -> None:
        self._answer("post")

    def do_GET(self) -> None:
        self._answer("get")

    def log_message(self, *args) -> None:
        return None


@pytest.fixture
def stripe_http():
    _StripeHandler.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StripeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _StripeHandler.calls
    server.shutdown()


@pytest.fixture
def celery_worker_env(stripe_http):
    return {
        "STRIPE_SECRET_KEY": "sk_test_local",
        "STRIPE_API_BASE": stripe_http[0],
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


def test_refund_task_runs_in_a_real_worker_with_the_sdk_over_http(
    stripe_fake, stripe_http, celery_worker_process
):
    account = make_account("free")
    purchase = _paid_purchase(account)
    purchases.checkout_fulfil(session_id=purchase.checkout_session_id)
    with transaction.atomic():
        refund = refunds.refund_request(
            account=account, purchase_id=purchase.pk, credits=20_000_000, idempotency_key="worker"
        )
    assert wait_for(lambda: Refund.objects.get(pk=refund.pk).status == "succeeded", timeout=60)
    calls = stripe_http[1]
    assert ("post", "/v1/refunds", f"yunxin-refund-{refund.pk}") in calls
    assert Account.objects.get(pk=account.pk).balance == 5_000_000
    assert_ledger_ok()
