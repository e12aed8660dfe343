from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account, ApiKey


class LotKind(models.TextChoices):
    STARTER = "starter", "Starter credit"
    GRANT = "grant", "Staff grant"
    PURCHASE = "purchase", "Purchase"


# Spending draws lots down in this order: credits that can never be refunded (starter and
# staff grants) first, then purchases, each group oldest first. That keeps the most of a
# customer's money refundable, and spends first the purchases whose refund window closes
# soonest.
DRAW_ORDER = {LotKind.STARTER: 0, LotKind.GRANT: 0, LotKind.PURCHASE: 1}


class CreditLot(models.Model):
    """A batch of credits that arrived together. `remaining` is what is still unspent."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lots")
    kind = models.CharField(max_length=20, choices=LotKind.choices)
    draw_order = models.PositiveSmallIntegerField()
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["draw_order", "created_at", "id"]
        indexes = [
            models.Index(
                fields=["account", "draw_order", "created_at", "id"],
                condition=models.Q(remaining__gt=0),
                name="lot_drawable",
            )
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="lot_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(remaining__gte=0, remaining__lte=models.F("amount")),
                name="lot_remaining_within_amount",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(kind="starter"),
                name="one_starter_lot_per_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class EntryKind(models.TextChoices):
    STARTER = "starter", "Starter credit"
    GRANT = "grant", "Staff grant"
    DEDUCT = "deduct", "Staff deduction"
    PURCHASE = "purchase", "Purchase"
    USAGE = "usage", "Usage"
    REFUND = "refund", "Refund"


class LedgerEntry(models.Model):
    """Append-only. Every change of a balance is one entry, written in the same
    transaction as the balance, with the balance after it."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    amount = models.BigIntegerField(help_text="Signed micro-credits.")
    balance_after = models.BigIntegerField()
    reference = models.CharField(max_length=200, blank=True, db_index=True)
    memo = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lot = models.ForeignKey(CreditLot, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"]),
            models.Index(fields=["account", "kind", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d}"


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SETTLED = "settled", "Settled"
    EXPIRED = "expired", "Expired"


class Reservation(models.Model):
    """Credits held for one authorized request until it is settled or expires."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request_id = models.CharField(max_length=200, unique=True)
    fingerprint = models.CharField(max_length=64)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="reservations")
    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="reservations")
    model = models.ForeignKey("models_catalog.AIModel", on_delete=models.PROTECT)
    rate = models.ForeignKey("models_catalog.Rate", on_delete=models.PROTECT)
    reserved = models.BigIntegerField()
    priority = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.ACTIVE
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="active"),
                name="reservation_active_expiry",
            ),
            models.Index(
                fields=["api_key"],
                condition=models.Q(status="active"),
                name="reservation_key_active",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reserved__gte=0), name="reserved_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_id} ({self.status})"
