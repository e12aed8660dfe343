"""The embedded default: runserver on a SQLite file, 8 metering clients at once."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP = """
from datetime import timedelta
from django.utils import timezone
from accounts.models import User
from accounts import services
from billing.services.ledger import credits_grant
from models_catalog.models import AIModel, Provider
from models_catalog.services import rate_add
p = Provider.objects.create(slug="acme", name="Acme")
m = AIModel.objects.create(provider=p, slug="acme/chat", display_name="Chat", modality="chat")
rate_add(model=m, effective_from=timezone.now() - timedelta(days=1), allow_past=True,
         input_per_mtok="1", output_per_mtok="2")
user = User.objects.create_user(email="load@example.com", password="pw")
services.account_set_tier(account_id=user.account.pk, tier="enterprise", actor=None)
credits_grant(account_id=user.account.pk, amount=10**9, reason="load test", actor=None)
print(services.api_key_create(account=user.account, name="load", created_by=None)[1])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": "Bearer embedded-token", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, {"raw": err.read().decode()[:300]}


def test_sqlite_default_serves_eight_concurrent_metering_clients(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "yunxin.settings",
        "YUNXIN_VAR_DIR": str(tmp_path),
        "METERING_SERVICE_TOKEN": "embedded-token",
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    setup = subprocess.run(
        [*manage, "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    secret = setup.stdout.strip().splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/metering"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        statuses: list[int] = []
        lock = threading.Lock()

        def client(n: int) -> None:
            for i in range(15):
                rid = f"c{n}-{i}"
                s1, body = _post(
                    f"{base}/authorize",
                    {
                        "request_id": rid,
                        "api_key": secret,
                        "model": "acme/chat",
                        "max_output_tokens": 100,
                    },
                )
                s2, _ = _post(
                    f"{base}/settle",
                    {"reservation_id": body.get("reservation_id"), "output_tokens": 50},
                )
                s3, _ = _post(
                    f"{base}/record",
                    {
                        "request_id": f"rec-{rid}",
                        "api_key": secret,
                        "model": "acme/chat",
                        "input_tokens": 10,
                    },
                )
                with lock:
                    statuses.extend([s1, s2, s3])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[1]
    assert statuses.count(200) + statuses.count(201) == len(statuses) == 8 * 15 * 3, sorted(
        set(statuses)
    )
    assert "database is locked" not in log
    check = subprocess.run(
        [*manage, "check_ledger"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
