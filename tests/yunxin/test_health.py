import pytest
from django.db import OperationalError

from yunxin import health


def test_healthz_answers_without_touching_any_dependency(client):
    # No django_db mark: any database access would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_every_dependency_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert checks["database"] == "ok" and checks["broker"] == "ok"
    assert checks["migrations"] == "ok"
    assert checks["redis"] in ("ok", "not used")


@pytest.mark.django_db
def test_readyz_names_the_dependency_that_failed(client, monkeypatch):
    def down():
        raise OperationalError("connection refused")

    monkeypatch.setitem(health.CHECKS, "database", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database", "migrations"]
    assert body["checks"]["database"] == "error: OperationalError"
    assert body["checks"]["migrations"] == "unknown"


@pytest.mark.django_db
def test_readyz_reports_unapplied_migrations(client, monkeypatch):
    monkeypatch.setattr(health.check_migrations, "checked_at", float("inf"))
    monkeypatch.setattr(health.check_migrations, "pending", 2)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "2 unapplied"


@pytest.mark.django_db
def test_the_migration_check_is_cached_between_polls(client, monkeypatch):
    health.check_migrations.checked_at = float("-inf")
    client.get("/readyz")
    monkeypatch.setattr(health, "MigrationExecutor", None)  # would fail if called again
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_probes_answer_plain_http_when_https_is_enforced(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/models").status_code == 301
