import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "k" * 20 + "-production-secret-for-the-check-" + "z" * 20,
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/yunxin",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "portal.example.com",
    "METERING_SERVICE_TOKEN": "gateway-token-for-the-check",
    "STRIPE_SECRET_KEY": "sk_live_for_the_check",
    "STRIPE_WEBHOOK_SECRET": "whsec_for_the_check",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    dropped = set(PRODUCTION_ENV) | {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "YUNXIN_TESTING"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    base["DJANGO_SETTINGS_MODULE"] = "yunxin.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_sqlite():
    result = _manage("check", **(PRODUCTION_ENV | {"DATABASE_URL": "sqlite:///x.db"}))
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr


def test_debug_is_off_unless_asked_for():
    from django.conf import settings

    assert settings.DEBUG is False
