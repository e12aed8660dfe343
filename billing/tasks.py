from celery import shared_task

from billing.services import metering


@shared_task(ignore_result=True)
def release_expired_reservations() -> int:
    """Beat, every minute. Idempotent: each reservation is released at most once."""
    return metering.reservations_expire()


@shared_task(
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=8,
    acks_late=True,
    ignore_result=True,
)
def process_stripe_event(self, event_id: str) -> str:
    from billing.services.stripe_events import stripe_event_process

    return stripe_event_process(event_id=event_id)


@shared_task(ignore_result=True)
def requeue_stripe_events() -> int:
    """Beat: events stored but not processed are tried again."""
    from billing.services.stripe_events import stripe_events_requeue

    return stripe_events_requeue()


@shared_task(bind=True, max_retries=6, ignore_result=True)
def simulator_deliver_event(self, event_id: str) -> None:
    """The offline simulator's side of a Stripe webhook: sign and POST an event to our own
    endpoint, retrying like Stripe does when it is not answered with 2xx."""
    from billing.stripe_simulator import deliver

    try:
        deliver(event_id)
    except OSError as exc:
        if self.request.is_eager:
            raise
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 60)) from exc


@shared_task(bind=True, max_retries=8, acks_late=True, ignore_result=True)
def execute_refund(self, refund_id: int) -> str:
    """Send one approved refund to Stripe. Network errors and 5xx retry with backoff (never
    beyond the broker's visibility timeout); a 4xx fails the refund; idempotent by the
    refund's own Stripe idempotency key."""
    from billing.services.refunds import RetryableStripeError, refund_execute

    try:
        return refund_execute(refund_id=refund_id)
    except RetryableStripeError as exc:
        if self.request.retries >= self.max_retries:
            from billing.services.refunds import refund_give_up

            return refund_give_up(refund_id=refund_id, why=str(exc))
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 1800)) from exc


@shared_task(ignore_result=True)
def requeue_refunds() -> int:
    """Beat: approved refunds whose task was lost (a broker outage) are sent again."""
    from billing.services.refunds import refunds_requeue

    return refunds_requeue()


@shared_task(ignore_result=True)
def refund_windows() -> str:
    """Beat, hourly: close passed refund windows and send two-day reminders."""
    from billing.services.refunds import refund_reminders_send, refund_windows_close

    return f"closed {refund_windows_close()}, reminded {refund_reminders_send()}"
