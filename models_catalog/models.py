from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.tiers import TierName


class Modality(models.TextChoices):
    CHAT = "chat", "Chat"
    COMPLETION = "completion", "Completion"
    EMBEDDING = "embedding", "Embedding"
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"
    VIDEO = "video", "Video"
    THREE_D = "3d", "3D"
    MUSIC = "music", "Music"


TEXT_MODALITIES = frozenset({Modality.CHAT, Modality.COMPLETION, Modality.EMBEDDING})


class SizeClass(models.TextChoices):
    SMALL = "small", "Small"
    MEDIUM = "medium", "Medium"
    LARGE = "large", "Large"
    FRONTIER = "frontier", "Frontier"


class Unit(models.TextChoices):
    IMAGE = "image", "image"
    SECOND = "second", "second"
    ASSET = "asset", "3D asset"
    TRACK = "track", "track"


class Provider(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    website = models.URLField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AIModel(models.Model):
    """A model customers can call, named by its slug `provider/name`."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    slug = models.CharField(
        max_length=120, unique=True, help_text="provider/name, e.g. openai/gpt-4o"
    )
    display_name = models.CharField(max_length=120)
    modality = models.CharField(max_length=20, choices=Modality.choices)
    context_length = models.PositiveIntegerField(null=True, blank=True)
    size_class = models.CharField(
        max_length=20, choices=SizeClass.choices, default=SizeClass.MEDIUM
    )
    min_tier = models.CharField(max_length=20, choices=TierName.choices, default=TierName.FREE)
    experimental = models.BooleanField(
        default=False, help_text="Experimental models are for Enterprise accounts only."
    )
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["slug"]
        verbose_name = "model"
        indexes = [models.Index(fields=["active", "modality"]), models.Index(fields=["min_tier"])]

    def __str__(self) -> str:
        return self.slug

    @property
    def required_tier(self) -> str:
        return TierName.ENTERPRISE if self.experimental else self.min_tier

    @property
    def is_text(self) -> bool:
        return self.modality in TEXT_MODALITIES


class Rate(models.Model):
    """A dated price. A change adds a row; a row that has taken effect is never edited.

    Text models: credits per 1M tokens for input and output, optionally reasoning (else the
    output price applies) and cached input (else the input price applies).
    Other modalities: credits per unit (image, second, 3D asset, track).
    """

    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="rates")
    effective_from = models.DateTimeField(default=timezone.now)
    input_per_mtok = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    output_per_mtok = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    reasoning_per_mtok = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    cached_input_per_mtok = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True
    )
    unit_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    unit = models.CharField(max_length=20, choices=Unit.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["model", "effective_from"], name="rate_unique_moment"),
            models.CheckConstraint(
                condition=(
                    models.Q(input_per_mtok__isnull=False, output_per_mtok__isnull=False)
                    | models.Q(unit_price__isnull=False)
                ),
                name="rate_has_a_price",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} from {self.effective_from:%Y-%m-%d %H:%M}"

    @property
    def is_unit_priced(self) -> bool:
        return self.unit_price is not None

    def has_taken_effect(self, at=None) -> bool:
        return self.effective_from <= (at or timezone.now())
