from datetime import datetime

from celery import shared_task

from accounts import services
from accounts.webhooks import dispatch


@shared_task(ignore_result=True)
def api_key_mark_used(key_id: int, used_at: str) -> None:
    services.api_key_mark_used(key_id=key_id, used_at=datetime.fromisoformat(used_at))


@shared_task(ignore_result=True)
def webhook_deliver(delivery_id: int, attempt: int) -> str:
    """One attempt of one delivery. Idempotent: a duplicate or stale task does nothing."""
    return dispatch.webhook_delivery_attempt(delivery_id=delivery_id, attempt=attempt)


@shared_task(ignore_result=True)
def webhook_deliveries_due() -> int:
    """Beat: queue the deliveries whose retry time has come."""
    return dispatch.webhook_deliveries_enqueue_due()


@shared_task(ignore_result=True)
def webhook_endpoint_disabled_email(endpoint_id: int) -> bool:
    return dispatch.webhook_endpoint_notify_disabled(endpoint_id=endpoint_id)
