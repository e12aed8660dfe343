from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from accounts.models import Account, ApiKey


class UsageSource(models.TextChoices):
    SETTLE = "settle", "Authorized and settled"
    RECORD = "record", "Recorded"


class UsageEvent(models.Model):
    """One metered request: what was used, at which rate, for how much. Written by the
    metering service in the same transaction as its ledger entry."""

    request_id = models.CharField(max_length=200, unique=True)
    fingerprint = models.CharField(max_length=64)
    source = models.CharField(max_length=10, choices=UsageSource.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="usage_events")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.PROTECT, related_name="usage_events"
    )
    model = models.ForeignKey("models_catalog.AIModel", on_delete=models.PROTECT)
    rate = models.ForeignKey("models_catalog.Rate", on_delete=models.PROTECT)
    reservation = models.OneToOneField(
        "billing.Reservation", null=True, blank=True, on_delete=models.PROTECT
    )
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    units = models.DecimalField(max_digits=20, decimal_places=6, default=Decimal(0))
    cost = models.BigIntegerField(help_text="Micro-credits charged.")
    balance_after = models.BigIntegerField()
    priority = models.PositiveSmallIntegerField()
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["account", "-occurred_at"])]

    def __str__(self) -> str:
        return self.request_id
