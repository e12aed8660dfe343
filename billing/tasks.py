from celery import shared_task

from billing.services import metering


@shared_task(ignore_result=True)
def release_expired_reservations() -> int:
    """Beat, every minute. Idempotent: each reservation is released at most once."""
    return metering.reservations_expire()
