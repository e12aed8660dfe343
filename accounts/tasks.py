from datetime import datetime

from celery import shared_task

from accounts import services


@shared_task(ignore_result=True)
def api_key_mark_used(key_id: int, used_at: str) -> None:
    services.api_key_mark_used(key_id=key_id, used_at=datetime.fromisoformat(used_at))
