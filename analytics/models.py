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


ROLLUP_METRICS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cached_input_tokens",
    "units_micro",
    "cost",
)


class RollupMetrics(models.Model):
    """Sums of usage events: what both rollup grains count. Units are integer
    micro-units (units × 1,000,000) so that their sums are exact on every database."""

    requests = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    units_micro = models.BigIntegerField(default=0, help_text="Units × 1,000,000.")
    cost = models.BigIntegerField(default=0, help_text="Micro-credits charged.")

    class Meta:
        abstract = True


def _grain(model: str, period: str) -> list[models.BaseConstraint]:
    return [
        models.UniqueConstraint(
            fields=["account", "api_key", "model", period], name=f"{model}_grain"
        ),
        # NULLs never collide in a UNIQUE constraint: usage without a key has its own.
        models.UniqueConstraint(
            fields=["account", "model", period],
            condition=models.Q(api_key__isnull=True),
            name=f"{model}_grain_keyless",
        ),
    ]


def _reads(model: str, period: str) -> models.Index:
    # Every read is one account's periods in a range. On PostgreSQL the sums ride along
    # in the index, so a page or API query is an index-only scan.
    return models.Index(
        fields=["account", period],
        include=["model", "api_key", *ROLLUP_METRICS],
        name=f"{model}_account_{period}",
    )


class UsageRollup(RollupMetrics):
    """Usage summed per account × API key × model × UTC hour: what the usage pages, the
    usage API and its CSV read (with the daily rollups), so none of them scans events.

    Kept exactly in step with the events: `analytics.services.usage_rollups_add` runs in
    the metering transaction that inserts the events (an upsert that adds to the hour's
    row), so a rollup can never show a charge the ledger does not have, or miss one.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="usage_rollups")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.PROTECT)
    model = models.ForeignKey("models_catalog.AIModel", on_delete=models.PROTECT)
    hour = models.DateTimeField(help_text="Start of the UTC hour.")

    class Meta:
        ordering = ["-hour"]
        constraints = _grain("usage_rollup", "hour")
        indexes = [_reads("usage_rollup", "hour")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.model_id} {self.hour:%Y-%m-%d %H:00}"


class UsageDailyRollup(RollupMetrics):
    """The same sums per UTC day, written beside the hourly ones in the same upsert.
    Serves day-aligned reads in UTC and the whole days of any range (totals, per model,
    per key) with 24 times fewer rows."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.PROTECT)
    model = models.ForeignKey("models_catalog.AIModel", on_delete=models.PROTECT)
    day = models.DateField(help_text="The UTC day.")

    class Meta:
        ordering = ["-day"]
        constraints = _grain("usage_daily_rollup", "day")
        indexes = [_reads("usage_daily_rollup", "day")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.model_id} {self.day}"
