from unittest import mock

import pytest

pytestmark = pytest.mark.django_db


def test_broker_outage_does_not_fail_api_key_requests(key_client):
    with mock.patch(
        "accounts.tasks.api_key_mark_used.delay", side_effect=ConnectionError("broker down")
    ):
        response = key_client.get("/api/auth/me")
    assert response.status_code == 200
