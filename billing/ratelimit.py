"""Sliding-window rate limiter: at most `limit` requests in any `window` seconds.

On Redis (REDIS_URL) one Lua script per check does it atomically for every web process:
it drops timestamps older than the window, counts, and admits by adding one, using the
Redis server's clock so processes on several machines agree. Without Redis a
process-local window does the same for the embedded single-process setup.

A sliding log is exact: unlike a fixed-window counter it never lets 2x through at a
window edge. An admitted request can be given back (`release`) when the request it
stood for is denied later, because a denied request counts nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from functools import cache

from django.conf import settings

WINDOW_SECONDS = 60

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local admitted = 0
if ARGV[4] == '1' and count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
  admitted = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = window
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
return {admitted, limit - count, reset}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int | None  # None = unlimited
    remaining: int | None
    reset_seconds: int  # until the oldest counted request leaves the window
    key: str = ""
    member: str = ""

    @property
    def retry_after(self) -> int:
        return max(1, self.reset_seconds)

    def given_back(self) -> Decision:
        """How the window looks once this admitted request is released again."""
        if self.limit is None or not self.allowed:
            return self
        return Decision(True, self.limit, (self.remaining or 0) + 1, self.reset_seconds)

    def headers(self) -> dict[str, str]:
        if self.limit is None:
            return {}
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining or 0, 0)),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


UNLIMITED = Decision(allowed=True, limit=None, remaining=None, reset_seconds=0)


@cache
def _redis():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return client, client.register_script(_SCRIPT)


class _LocalWindows:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: dict[str, deque[tuple[float, str]]] = {}

    def hit(self, key: str, limit: int, member: str, count: bool) -> tuple[bool, int, int]:
        now = time.monotonic()
        with self.lock:
            window = self.windows.setdefault(key, deque())
            while window and window[0][0] <= now - WINDOW_SECONDS:
                window.popleft()
            admitted = count and len(window) < limit
            if admitted:
                window.append((now, member))
            reset = WINDOW_SECONDS - (now - window[0][0]) if window else WINDOW_SECONDS
            return admitted, limit - len(window), int(reset * 1000)

    def release(self, key: str, member: str) -> None:
        with self.lock:
            window = self.windows.get(key)
            if window:
                self.windows[key] = deque(e for e in window if e[1] != member)


_local = _LocalWindows()


def _full_key(name: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'yunxin')}:rl:{name}"


def hit(name: str, limit: int | None, *, count: bool = True) -> Decision:
    """Count one request against `name` if it fits in the window (or, with
    count=False, only report the window)."""
    if limit is None:
        return UNLIMITED
    key, member = _full_key(name), uuid.uuid4().hex
    if settings.REDIS_URL:
        _, script = _redis()
        args = [WINDOW_SECONDS * 1000, limit, member, "1" if count else "0"]
        admitted, remaining, reset_ms = script(keys=[key], args=args)
    else:
        admitted, remaining, reset_ms = _local.hit(key, limit, member, count)
    if not count:
        return Decision(True, limit, int(remaining), -(-int(reset_ms) // 1000))
    return Decision(
        allowed=bool(admitted),
        limit=limit,
        remaining=int(remaining),
        reset_seconds=-(-int(reset_ms) // 1000),
        key=key,
        member=member,
    )


def peek(name: str, limit: int | None) -> Decision:
    return hit(name, limit, count=False)


def release(decision: Decision) -> None:
    """Give back an admitted request that ended up denied for another reason."""
    if not decision.allowed or decision.limit is None:
        return
    if settings.REDIS_URL:
        client, _ = _redis()
        client.zrem(decision.key, decision.member)
    else:
        _local.release(decision.key, decision.member)
