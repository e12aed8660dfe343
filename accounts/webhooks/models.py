"""Outgoing webhooks: endpoints, events, one delivery per (event, endpoint), every attempt.

Imported by accounts/models.py, so these are models of the `accounts` app.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DisabledReason(models.TextChoices):
    CUSTOMER = "customer", "Disabled by you"
    GONE = "gone", "The endpoint answered 410 Gone"
    FAILING = "failing", "Failing without a success for too long"


class WebhookEndpoint(models.Model):
    """Where an account wants events sent. Active = not disabled and not paused."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    # `whsec_<base64>` per the Standard Webhooks spec. Kept readable: it signs every
    # delivery. After a rotation the previous secret also signs until it expires.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=20, choices=DisabledReason.choices, blank=True)
    disabled_notified_at = models.DateTimeField(null=True, blank=True)
    # Set while the account's tier has no webhooks benefit (a downgrade); cleared on upgrade.
    paused_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["account", "disabled_at", "paused_at"])]

    def __str__(self) -> str:
        return self.url

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None and self.paused_at is None

    @property
    def previous_secret_active(self) -> bool:
        expires = self.previous_secret_expires_at
        return bool(self.previous_secret and expires and expires > timezone.now())

    @property
    def status(self) -> str:
        if self.disabled_at is not None:
            return "disabled"
        if self.paused_at is not None:
            return "paused"
        return "active"


class WebhookEvent(models.Model):
    """Something that happened to an account. `payload` is the exact JSON body sent."""

    id = models.CharField(primary_key=True, max_length=40, editable=False)  # evt_…
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="webhook_events"
    )
    type = models.CharField(max_length=60)
    payload = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event to one endpoint, attempted until it succeeds or retries run out.

    `next_attempt_at` is when a beat task may (re-)enqueue it: the retry time while
    pending, a lease while a task is queued or sending. The event id is the
    `webhook-id` header, the same on every attempt and on redelivery.
    """

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)
    # attempt_count when this round of retries began (0, or when it was redelivered).
    retry_base = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"]),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="webhook_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, with what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # None: no answer
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
