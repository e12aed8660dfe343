"""A real HTTP receiver on loopback that verifies Standard Webhooks signatures with the
`standardwebhooks` library, as a customer's server would."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    payload: dict | None  # the verified payload; None when verification failed
    status: int


@dataclass
class Receiver:
    secret: str = ""
    # Statuses to answer, in order; 200 once they run out.
    script: list[int] = field(default_factory=list)
    delay: float = 0.0
    body: bytes = b"ok"
    received: list[Received] = field(default_factory=list)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver._handle(self, body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def verified(self) -> list[dict]:
        """Payloads that verified and were answered with a success."""
        return [r.payload for r in self.received if r.payload and 200 <= r.status < 300]

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = dict(handler.headers.items())
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            payload = None
        status = (self.script.pop(0) if self.script else 200) if payload else 400
        self.received.append(Received(handler.path, headers, body, payload, status))
        time.sleep(self.delay)
        handler.send_response(status)
        if 300 <= status < 400:
            handler.send_header("Location", f"http://127.0.0.1:{self.port}/elsewhere")
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        try:
            handler.wfile.write(self.body)
        except OSError:
            pass  # the client gave up (a timeout test)


def make_endpoint(receiver: Receiver, tier: str = "pro", event_types=None, url: str | None = None):
    """An account of `tier` with one endpoint pointing at the receiver, which learns the
    endpoint's secret. Returns (account, endpoint)."""
    from accounts.webhooks import services
    from accounts.webhooks.events import SUBSCRIBABLE
    from tests.factories import make_account

    account = make_account(tier)
    endpoint = services.webhook_endpoint_create(
        account=account, url=url or receiver.url, event_types=event_types or SUBSCRIBABLE
    )
    receiver.secret = endpoint.secret
    return account, endpoint


DEPLETED = {"account_id": 0, "available": "0.000000", "balance": "0.000000"}


def emit_depleted(account):
    """Emit a `credits.depleted` event for the account (the simplest real event)."""
    from accounts.webhooks.services import webhook_emit

    return webhook_emit(
        account_id=account.pk,
        event_type="credits.depleted",
        data={**DEPLETED, "account_id": account.pk},
    )
