"""Reads for webhooks, always scoped to an account."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from accounts.models import Account
from accounts.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from yunxin.errors import NotFound, ValidationFailed

MAX_PAGE = 100


def webhook_endpoint_list(*, account: Account) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(account=account).order_by("created_at", "id")


def webhook_endpoint_get(*, account: Account, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(account=account, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def webhook_delivery_list(
    *,
    account: Account,
    endpoint_id: int | None = None,
    status: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """Newest first, each with its event, endpoint and attempts (three queries in all).
    `before` is a delivery id: the page after the one that ended with it."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}.")
    deliveries = WebhookDelivery.objects.filter(endpoint__account=account)
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    if status:
        deliveries = deliveries.filter(status=status)
    if before is not None:
        deliveries = deliveries.filter(pk__lt=before)
    return list(
        deliveries.select_related("event", "endpoint")
        .prefetch_related(
            Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("-number", "-id"))
        )
        .order_by("-id")[:limit]
    )


def webhook_delivery_get(*, account: Account, delivery_id: int) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.select_related("event", "endpoint")
        .filter(endpoint__account=account, pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise NotFound("No such webhook delivery.")
    return delivery
