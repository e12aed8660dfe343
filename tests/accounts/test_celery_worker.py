from accounts.models import ApiKey
from tests.conftest import wait_for
from tests.factories import make_account, make_key


def test_task_enqueued_by_a_request_runs_in_the_worker_process(celery_worker_process, client):
    key, secret = make_key(make_account("pro"))
    response = client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert wait_for(lambda: ApiKey.objects.get(pk=key.pk).last_used_at) is not None
    # The worker process's own log shows that it, not this process, ran the task.
    log = celery_worker_process.read_text()
    assert "Task accounts.tasks.api_key_mark_used" in log and "succeeded" in log
