from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone

from accounts.tiers import TIERS, Tier, TierName


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in. Email is the login; money lives on their Account."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class Account(models.Model):
    """The billing owner: holds the tier, the credit balance and the API keys."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="account"
    )
    name = models.CharField(max_length=200, blank=True)
    tier = models.CharField(max_length=20, choices=TierName.choices, default=TierName.FREE)
    # Integer micro-credits. Changed only by the ledger service, in the same transaction
    # as the ledger entry that explains the change.
    balance = models.BigIntegerField(default=0, editable=False)
    # Micro-credits held by active reservations and by lots withheld for a refund or a
    # dispute; available = balance - held.
    held = models.BigIntegerField(default=0, editable=False)
    # Set when something needs a human look (a payment dispute); staff clear it.
    flagged_for_review = models.BooleanField(default=False)
    flag_reason = models.CharField(max_length=255, blank=True)
    # Outgoing webhooks: `credits.low_balance` fires when a charge takes the available
    # balance below this many micro-credits (None: off). On the row metering already
    # locks, so checking it costs no query.
    webhook_low_balance_threshold = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tier"])]

    def __str__(self) -> str:
        return self.name or self.owner.email

    @property
    def tier_info(self) -> Tier:
        return TIERS[self.tier]

    @property
    def available(self) -> int:
        return self.balance - self.held


class TierChange(models.Model):
    """Audit trail of every tier change: who, when, why."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.CharField(max_length=20, choices=TierName.choices)
    to_tier = models.CharField(max_length=20, choices=TierName.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    source = models.CharField(max_length=30, default="staff")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.account}: {self.from_tier} -> {self.to_tier}"


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class LimitPeriod(models.TextChoices):
    NEVER = "", "Never resets"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class ApiKey(models.Model):
    """A customer API key. Only a SHA-256 digest of the secret is stored.

    The full key is `yx_<prefix>_<secret>`: the prefix is public (shown in lists, used for
    the indexed lookup), the secret is shown once at creation and never again.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Optional spend limit in micro-credits, per period (or in total when it never resets).
    credit_limit = models.BigIntegerField(null=True, blank=True)
    limit_period = models.CharField(
        max_length=10, choices=LimitPeriod.choices, blank=True, default=LimitPeriod.NEVER
    )
    # Spend in the current period, moved by the metering service under the account lock.
    period_spent = models.BigIntegerField(default=0, editable=False)
    period_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Which limit period `api_key.limit_reached` was last sent for (one event per period).
    limit_reached_notice = models.CharField(max_length=80, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix}…)"

    @property
    def display_prefix(self) -> str:
        return f"yx_{self.prefix}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


# Outgoing webhooks live in their own package; importing the models here makes them
# models of this app.
from accounts.webhooks.models import (  # noqa: E402
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "Account",
    "ApiKey",
    "LimitPeriod",
    "TierChange",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
