"""The one module that sends webhook HTTP requests (conventions.md, "Outgoing HTTP").

- The host is resolved here and every address it resolves to is checked: private,
  loopback, link-local, multicast, reserved, shared (CGNAT), unspecified and cloud
  metadata addresses are refused, also when wrapped in IPv6 (IPv4-mapped, 6to4, Teredo,
  NAT64). The socket then connects to an address that passed, while the name stays in
  the Host header, TLS SNI and the certificate check. The check runs at connect time,
  on every attempt, so a DNS change after the endpoint was saved cannot get around it.
  `WEBHOOKS_ALLOW_PRIVATE_ADDRESSES` lifts it for development and tests only
  (production refuses to start with it on).
- https only when `WEBHOOKS_REQUIRE_HTTPS` (always in production).
- One deadline for the whole request (`WEBHOOKS_TIMEOUT_SECONDS`), enforced by a watchdog
  that closes the socket, so a server that drips bytes cannot hold a worker.
- No redirect is followed (http.client never follows one; a 3xx is a failure), no proxy
  is taken from the environment, and at most `WEBHOOKS_MAX_RESPONSE_BYTES` of the answer
  is read.

Built on http.client rather than requests/urllib3 because connecting to a checked
address while keeping the host name for TLS is a few lines here and needs adapter
internals there.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

USER_AGENT = "Yunxin-Webhooks/1.0"
# Besides 5xx, answers that say "try again later".
RETRYABLE_STATUS = {408, 425, 429}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, most clouds
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Answer:
    """A 2xx answer."""

    status_code: int
    latency_ms: int
    excerpt: str


class DeliveryError(Exception):
    """The request did not succeed. `retryable` says whether trying later can help;
    `status_code` is set when the endpoint answered."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        latency_ms: int = 0,
        excerpt: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.latency_ms = latency_ms
        self.excerpt = excerpt


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def address_allowed(ip: IPAddress) -> bool:
    """Only globally routable unicast addresses, and never a metadata service."""
    inner = _embedded_ipv4(ip)
    if inner is not None and not address_allowed(inner):
        return False
    if ip in _METADATA:
        return False
    refused = (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (ip.version == 6 and ip.is_site_local)
    )
    return ip.is_global and not refused


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version == 4:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_url(url: str) -> Target:
    """What can be checked without the network; raises a non-retryable DeliveryError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DeliveryError(f"The URL is not valid: {exc}.", retryable=False) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DeliveryError("The URL must start with https:// or http://.", retryable=False)
    if settings.WEBHOOKS_REQUIRE_HTTPS and scheme != "https":
        raise DeliveryError("The URL must use https.", retryable=False)
    if parts.username or parts.password:
        raise DeliveryError("The URL must not contain a user name or password.", retryable=False)
    host = parts.hostname or ""
    if not host:
        raise DeliveryError("The URL has no host.", retryable=False)
    _check_literal(host)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def _check_literal(host: str) -> None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: its addresses are checked when connecting
    _check_address(host, ip)


def _check_address(host: str, ip: IPAddress) -> None:
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES or address_allowed(ip):
        return
    raise DeliveryError(
        f"{host} is a private, local or reserved address ({ip}): refused.", retryable=False
    )


def open_checked_socket(host: str, port: int, deadline: float) -> socket.socket:
    """Resolve, refuse if any address is not allowed, connect to the first that answers."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryError(f"Cannot resolve {host}: {exc}.", retryable=True) from exc
    for *_, sockaddr in infos:
        _check_address(host, ipaddress.ip_address(sockaddr[0]))
    error: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


class _Connection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, deadline: float) -> None:
        super().__init__(host, port, timeout=max(deadline - time.monotonic(), 0.001))
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = open_checked_socket(self.host, self.port, self._deadline)


class _TLSConnection(_Connection):
    default_port = 443

    def connect(self) -> None:
        raw = open_checked_socket(self.host, self.port, self._deadline)
        self.sock = ssl.create_default_context().wrap_socket(raw, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST once. Returns the 2xx answer or raises DeliveryError."""
    target = parse_url(url)
    timeout = settings.WEBHOOKS_TIMEOUT_SECONDS
    started = time.monotonic()
    deadline = started + timeout
    cls = _TLSConnection if target.scheme == "https" else _Connection
    conn = cls(target.host, target.port, deadline=deadline)
    watchdog = threading.Timer(timeout, _abort, [conn])
    watchdog.start()
    try:
        conn.request(
            "POST",
            target.path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = conn.getresponse()
        excerpt = _read_capped(response)
    except DeliveryError as exc:
        exc.latency_ms = _ms_since(started)
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _connection_error(exc, started, deadline, timeout) from exc
    finally:
        watchdog.cancel()
        conn.close()
    return _judge(response.status, response.getheader("Location"), excerpt, _ms_since(started))


def _abort(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


def _read_capped(response: http.client.HTTPResponse) -> str:
    cap = settings.WEBHOOKS_MAX_RESPONSE_BYTES
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = response.read1(cap - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _connection_error(exc: Exception, started: float, deadline: float, timeout: int):
    latency = _ms_since(started)
    if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
        return DeliveryError(f"Timed out after {timeout} s.", retryable=True, latency_ms=latency)
    if isinstance(exc, http.client.InvalidURL):
        return DeliveryError(f"The URL is not valid: {exc}.", retryable=False)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS failed: {exc}.", retryable=True, latency_ms=latency)
    detail = str(exc) or type(exc).__name__
    return DeliveryError(f"Connection failed: {detail}.", retryable=True, latency_ms=latency)


def _judge(status: int, location: str | None, excerpt: str, latency: int) -> Answer:
    if 200 <= status < 300:
        return Answer(status, latency, excerpt)
    if 300 <= status < 400:
        message = f"Answered {status} (redirect to {location or '?'}); redirects are not followed."
    else:
        message = f"Answered {status}."
    raise DeliveryError(
        message,
        retryable=status >= 500 or status in RETRYABLE_STATUS,
        status_code=status,
        latency_ms=latency,
        excerpt=excerpt,
    )
