"""A metering client for the scale-out and fault tests: standard library only, so it runs
as a separate process (`python tests/yunxin/load_client.py < config.json`) as the gateway
would, and the tests import its functions to replay requests after a fault.

Config (JSON on stdin): base urls, service token, API key, model, request-id prefix,
`count` operations or `duration` seconds, `ops` ("pairs", "records" or "mixed": an
authorize answered by one web process and its settle by the other, then a record),
`start_at` (epoch seconds, to start several clients together) and `timeout`. Prints one
JSON list: every answer with its operation, request id, base url, status (-1: no answer),
error code, X-Request-ID and duration.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request


def call(base: str, path: str, body: dict, token: str, timeout: float, extra: dict | None = None):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            **(extra or {}),
        },
    )
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, raw, headers = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        status, raw, headers = err.code, err.read(), err.headers
    except OSError as exc:  # no answer at all (refused, reset, timed out)
        return {"status": -1, "error": repr(exc), "seconds": time.monotonic() - start}
    try:
        data = json.loads(raw)
    except ValueError:
        data = {"raw": raw[:300].decode(errors="replace")}
    error = data.get("error") if isinstance(data, dict) else None
    return {
        "status": status,
        "code": error.get("code") if isinstance(error, dict) else None,
        "body": data,
        "x_request_id": headers.get("X-Request-ID"),
        "retry_after": headers.get("Retry-After"),
        "seconds": time.monotonic() - start,
    }


def pair(cfg: dict, rid: str, authorize_at: str, settle_at: str) -> list[dict]:
    """authorize on one web process, settle on the other (when authorized)."""
    body = {"request_id": rid, "api_key": cfg["api_key"], "model": cfg["model"]}
    body["max_output_tokens"] = 200
    t = cfg.get("timeout", 10)
    auth = call(authorize_at, "/api/metering/authorize", body, cfg["token"], t, cfg.get("headers"))
    answers = [{"op": "authorize", "rid": rid, "base": authorize_at, **auth}]
    if auth["status"] == 200:
        settle = {"reservation_id": auth["body"]["reservation_id"], "output_tokens": 100}
        answer = call(
            settle_at, "/api/metering/settle", settle, cfg["token"], t, cfg.get("headers")
        )
        answers.append({"op": "settle", "rid": rid, "base": settle_at, **answer})
    return answers


def record(cfg: dict, rid: str, base: str) -> list[dict]:
    body = {"request_id": rid, "api_key": cfg["api_key"], "model": cfg["model"]}
    body["input_tokens"] = 1000
    t = cfg.get("timeout", 10)
    answer = call(base, "/api/metering/record", body, cfg["token"], t, cfg.get("headers"))
    return [{"op": "record", "rid": rid, "base": base, **answer}]


def run(cfg: dict) -> list[dict]:
    bases, ops = cfg["bases"], cfg.get("ops", "mixed")
    while time.time() < cfg.get("start_at", 0):
        time.sleep(0.001)
    answers: list[dict] = []
    deadline = time.monotonic() + cfg.get("duration", 10**9)
    n = 0
    while n < cfg.get("count", 10**9) and time.monotonic() < deadline:
        rid = f"{cfg['prefix']}-{n}"
        a, b = bases[n % len(bases)], bases[(n + 1) % len(bases)]
        if ops == "pairs" or (ops == "mixed" and n % 2 == 0):
            answers += pair(cfg, rid, a, b)
        else:
            answers += record(cfg, rid, a)
        n += 1
        time.sleep(cfg.get("interval", 0))
    return answers


if __name__ == "__main__":
    print(json.dumps(run(json.load(sys.stdin))))
