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
    # Withheld from spending while a refund runs or a dispute is open; still part of the
    # balance, and counted in the account's `held`.
    held = models.BigIntegerField(default=0)
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
            models.CheckConstraint(
                condition=models.Q(
                    held__gte=0, held__lte=models.F("amount") - models.F("remaining")
                ),
                name="lot_held_within_amount",
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
    DISPUTE = "dispute", "Lost dispute"


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


# --- Stripe: purchases, packs, subscriptions, incoming events -----------------------------


class CreditPack(models.Model):
    """A pack of credits staff sell at a fixed price."""

    name = models.CharField(max_length=100)
    credits = models.BigIntegerField(help_text="Micro-credits (1 credit = 1,000,000).")
    price = models.PositiveIntegerField(help_text="Price in minor units (cents).")
    currency = models.CharField(max_length=3, default="usd")
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "price"]
        constraints = [
            models.CheckConstraint(condition=models.Q(credits__gt=0), name="pack_credits_positive"),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="pack_price_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class PurchaseStatus(models.TextChoices):
    PENDING = "pending", "Awaiting payment"
    PAID = "paid", "Paid"
    FAILED = "failed", "Payment failed"
    EXPIRED = "expired", "Expired"


class Purchase(models.Model):
    """One attempt to buy credits through Stripe Checkout; paid at most once."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="purchases")
    pack = models.ForeignKey(CreditPack, null=True, blank=True, on_delete=models.PROTECT)
    credits = models.BigIntegerField()
    amount = models.PositiveIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10, choices=PurchaseStatus.choices, default=PurchaseStatus.PENDING
    )
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    receipt_url = models.URLField(max_length=500, blank=True)
    lot = models.OneToOneField(
        CreditLot, null=True, blank=True, on_delete=models.PROTECT, related_name="purchase"
    )
    disputed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    refunded_credits = models.BigIntegerField(default=0)
    refunded_amount = models.PositiveIntegerField(default=0, help_text="Minor units.")
    # Set by the beat task when the refund window closes / the reminder was emailed.
    refund_window_closed_at = models.DateTimeField(null=True, blank=True)
    refund_reminder_sent_at = models.DateTimeField(null=True, blank=True)

    failure_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Purchase #{self.pk}"


class SubscriptionPlan(models.Model):
    """The Stripe price of a self-service tier (Basic, Pro), set by staff."""

    tier = models.CharField(
        max_length=20, unique=True, choices=[("basic", "Basic"), ("pro", "Pro")]
    )
    stripe_price_id = models.CharField(max_length=255, unique=True)
    amount = models.PositiveIntegerField(help_text="Monthly price in minor units, for display.")
    currency = models.CharField(max_length=3, default="usd")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["amount"]

    def __str__(self) -> str:
        return f"{self.get_tier_display()} ({self.stripe_price_id})"


class Subscription(models.Model):
    """Our copy of an account's Stripe subscription, refreshed from Stripe on every event."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="subscriptions")
    stripe_subscription_id = models.CharField(max_length=255, unique=True)
    stripe_customer_id = models.CharField(max_length=255)
    plan = models.ForeignKey(SubscriptionPlan, null=True, blank=True, on_delete=models.PROTECT)
    status = models.CharField(max_length=30)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.stripe_subscription_id} ({self.status})"


class StripeCustomer(models.Model):
    account = models.OneToOneField(
        Account, on_delete=models.PROTECT, related_name="stripe_customer"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.stripe_customer_id


class StripeEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed (will retry)"


class StripeEvent(models.Model):
    """Every incoming Stripe event, stored once under its id before anything is done."""

    id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=StripeEventStatus.choices, default=StripeEventStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class SimulatorObject(models.Model):
    """State of the offline Stripe simulator (development only, never with real keys)."""

    id = models.CharField(max_length=255, primary_key=True)
    kind = models.CharField(max_length=50)
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.id


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", "Awaiting review"
    APPROVED = "approved", "Approved"
    PROCESSING = "processing", "Sending to Stripe"
    PENDING = "pending", "Pending at the bank"
    SUCCEEDED = "succeeded", "Refunded"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired unreviewed"


REFUND_OPEN = (
    RefundStatus.REQUESTED,
    RefundStatus.APPROVED,
    RefundStatus.PROCESSING,
    RefundStatus.PENDING,
)


class Refund(models.Model):
    """Unused credits of a purchase given back as money. The credits are withheld from
    spending (lot.held) from the request until the refund succeeds (then debited) or
    ends otherwise (then released)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="refunds")
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    credits = models.BigIntegerField()
    amount = models.PositiveIntegerField(
        help_text="Money back, minor units (pro rata, rounded down)."
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12, choices=RefundStatus.choices)
    source = models.CharField(
        max_length=20, default="customer", help_text="customer, staff or stripe (its dashboard)"
    )
    idempotency_key = models.CharField(max_length=100)
    reason = models.CharField(max_length=500, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    stripe_refund_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="refund_once_per_key"
            ),
            models.CheckConstraint(
                condition=models.Q(credits__gt=0), name="refund_credits_positive"
            ),
        ]
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"Refund #{self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in REFUND_OPEN


class RefundLog(models.Model):
    """History of a refund: every status change, who, when, why."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="log")
    status = models.CharField(max_length=12, choices=RefundStatus.choices)
    note = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.refund_id}: {self.status}"
