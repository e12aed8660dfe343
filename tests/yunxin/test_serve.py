"""`make serve` (deploy/serve): what it refuses, and that its settings pass the deploy
check. test_faults.py runs the whole of it against private PostgreSQL and Redis."""

import os
import subprocess
import sys
from pathlib import Path

from tests.yunxin.test_settings import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = [
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "METERING_SERVICE_TOKEN",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
]


def _clean_env(**extra: str) -> dict[str, str]:
    dropped = {*REQUIRED, "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "YUNXIN_TESTING", "ENVIRONMENT"}
    return {k: v for k, v in os.environ.items() if k not in dropped} | extra


def test_make_serve_names_every_missing_setting_and_starts_nothing():
    result = subprocess.run(
        ["deploy/serve"],
        cwd=ROOT,
        env=_clean_env(METERING_SERVICE_TOKEN="t"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    missing = [name for name in REQUIRED if name != "METERING_SERVICE_TOKEN"]
    assert f"missing from the environment: {' '.join(missing)}" in result.stderr


def test_check_deploy_is_clean_with_make_serves_settings():
    # What deploy/serve exports on top of the operator's variables.
    env = _clean_env(**PRODUCTION_ENV, TRUST_X_FORWARDED_PROTO="0", LOG_FORMAT="json")
    env["DJANGO_SETTINGS_MODULE"] = "yunxin.settings"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
