"""A realistic demo catalogue for `make run`. Safe to run any number of times: providers
and models are matched by slug, a model's rates are loaded only when it has none, and the
scheduled price change only when no rate of that model already has its prices."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from models_catalog import services
from models_catalog.models import AIModel

PROVIDERS = {
    "openai": ("OpenAI", "https://openai.com"),
    "anthropic": ("Anthropic", "https://www.anthropic.com"),
    "google": ("Google", "https://ai.google.dev"),
    "meta": ("Meta", "https://llama.meta.com"),
    "mistral": ("Mistral AI", "https://mistral.ai"),
    "deepseek": ("DeepSeek", "https://www.deepseek.com"),
    "stability": ("Stability AI", "https://stability.ai"),
    "black-forest-labs": ("Black Forest Labs", "https://blackforestlabs.ai"),
    "elevenlabs": ("ElevenLabs", "https://elevenlabs.io"),
    "runway": ("Runway", "https://runwayml.com"),
    "suno": ("Suno", "https://suno.com"),
    "tripo": ("Tripo", "https://www.tripo3d.ai"),
}

LAUNCH = datetime(2025, 1, 1, tzinfo=UTC)


def text(i: str, o: str, *, reasoning: str | None = None, cached: str | None = None) -> dict:
    return {
        "input_per_mtok": Decimal(i),
        "output_per_mtok": Decimal(o),
        "reasoning_per_mtok": Decimal(reasoning) if reasoning else None,
        "cached_input_per_mtok": Decimal(cached) if cached else None,
    }


def unit(amount: str, per: str) -> dict:
    return {"unit_price": Decimal(amount), "unit": per}


# slug, name, modality, context, size, min_tier, experimental, description, rates.
# `rates` is the history, oldest first, as (effective_from, prices).
MODELS: list[tuple] = [
    (
        "openai/gpt-4o",
        "GPT-4o",
        "chat",
        128_000,
        "large",
        "pro",
        False,
        "OpenAI's flagship multimodal chat model.",
        [
            (datetime(2024, 5, 13, tzinfo=UTC), text("5.00", "15.00")),
            (datetime(2024, 10, 1, tzinfo=UTC), text("2.50", "10.00", cached="1.25")),
        ],
    ),
    (
        "openai/gpt-4o-mini",
        "GPT-4o mini",
        "chat",
        128_000,
        "small",
        "free",
        False,
        "Fast, inexpensive chat model for everyday tasks.",
        [(LAUNCH, text("0.15", "0.60", cached="0.075"))],
    ),
    (
        "openai/gpt-4.1",
        "GPT-4.1",
        "chat",
        1_047_576,
        "large",
        "pro",
        False,
        "Long-context chat model, strong at coding and instruction following.",
        [(LAUNCH, text("2.00", "8.00", cached="0.50"))],
    ),
    (
        "openai/o3",
        "o3",
        "chat",
        200_000,
        "frontier",
        "pro",
        False,
        "Reasoning model for hard maths, science and code.",
        [(LAUNCH, text("2.00", "8.00", reasoning="8.00", cached="0.50"))],
    ),
    (
        "openai/o4-mini",
        "o4-mini",
        "chat",
        200_000,
        "medium",
        "basic",
        False,
        "Small, affordable reasoning model.",
        [(LAUNCH, text("1.10", "4.40", reasoning="4.40", cached="0.275"))],
    ),
    (
        "openai/gpt-3.5-turbo-instruct",
        "GPT-3.5 Turbo Instruct",
        "completion",
        4_096,
        "medium",
        "free",
        False,
        "Classic text completion model.",
        [(LAUNCH, text("1.50", "2.00"))],
    ),
    (
        "openai/text-embedding-3-small",
        "Text Embedding 3 Small",
        "embedding",
        8_191,
        "small",
        "free",
        False,
        "Compact embeddings for search and clustering.",
        [(LAUNCH, text("0.02", "0"))],
    ),
    (
        "openai/text-embedding-3-large",
        "Text Embedding 3 Large",
        "embedding",
        8_191,
        "medium",
        "basic",
        False,
        "High-accuracy embeddings.",
        [(LAUNCH, text("0.13", "0"))],
    ),
    (
        "openai/dall-e-3",
        "DALL·E 3",
        "image",
        None,
        "large",
        "basic",
        False,
        "Image generation from text prompts (1024×1024).",
        [(LAUNCH, unit("0.04", "image"))],
    ),
    (
        "openai/whisper-1",
        "Whisper",
        "audio",
        None,
        "medium",
        "free",
        False,
        "Speech to text in many languages.",
        [(LAUNCH, unit("0.0001", "second"))],
    ),
    (
        "anthropic/claude-3-5-haiku",
        "Claude 3.5 Haiku",
        "chat",
        200_000,
        "small",
        "basic",
        False,
        "Anthropic's fastest model.",
        [(LAUNCH, text("0.80", "4.00", cached="0.08"))],
    ),
    (
        "anthropic/claude-sonnet-4",
        "Claude Sonnet 4",
        "chat",
        200_000,
        "large",
        "pro",
        False,
        "Balanced intelligence and speed, with extended thinking.",
        [(LAUNCH, text("3.00", "15.00", reasoning="15.00", cached="0.30"))],
    ),
    (
        "anthropic/claude-opus-4",
        "Claude Opus 4",
        "chat",
        200_000,
        "frontier",
        "enterprise",
        False,
        "Anthropic's most capable model for complex, long-running work.",
        [(LAUNCH, text("15.00", "75.00", reasoning="75.00", cached="1.50"))],
    ),
    (
        "google/gemini-2.0-flash-lite",
        "Gemini 2.0 Flash-Lite",
        "chat",
        1_048_576,
        "small",
        "free",
        False,
        "Google's most cost-efficient model.",
        [(LAUNCH, text("0.075", "0.30"))],
    ),
    (
        "google/gemini-2.5-flash",
        "Gemini 2.5 Flash",
        "chat",
        1_048_576,
        "medium",
        "basic",
        False,
        "Fast thinking model with a 1M-token context.",
        [(LAUNCH, text("0.30", "2.50", reasoning="2.50", cached="0.075"))],
    ),
    (
        "google/gemini-2.5-pro",
        "Gemini 2.5 Pro",
        "chat",
        1_048_576,
        "frontier",
        "pro",
        False,
        "Google's most capable thinking model.",
        [(LAUNCH, text("1.25", "10.00", reasoning="10.00", cached="0.31"))],
    ),
    (
        "google/gemini-exp-1206",
        "Gemini Experimental 1206",
        "chat",
        2_097_152,
        "frontier",
        "enterprise",
        True,
        "Experimental release: behaviour and price may change without notice.",
        [(LAUNCH, text("1.25", "5.00"))],
    ),
    (
        "google/veo-3",
        "Veo 3",
        "video",
        None,
        "frontier",
        "enterprise",
        False,
        "Video generation with native audio.",
        [(LAUNCH, unit("0.75", "second"))],
    ),
    (
        "meta/llama-3.1-8b-instruct",
        "Llama 3.1 8B Instruct",
        "chat",
        131_072,
        "small",
        "free",
        False,
        "Open-weights model for lightweight chat.",
        [(LAUNCH, text("0.05", "0.08"))],
    ),
    (
        "meta/llama-3.3-70b-instruct",
        "Llama 3.3 70B Instruct",
        "chat",
        131_072,
        "large",
        "free",
        False,
        "Open-weights model with strong multilingual chat.",
        [(LAUNCH, text("0.23", "0.40"))],
    ),
    (
        "meta/llama-3.1-405b-instruct",
        "Llama 3.1 405B Instruct",
        "chat",
        131_072,
        "frontier",
        "basic",
        False,
        "The largest open-weights Llama model.",
        [(LAUNCH, text("3.00", "3.00"))],
    ),
    (
        "mistral/mistral-small",
        "Mistral Small",
        "chat",
        32_000,
        "small",
        "free",
        False,
        "Efficient open model for low-latency tasks.",
        [(LAUNCH, text("0.10", "0.30"))],
    ),
    (
        "mistral/mistral-large",
        "Mistral Large",
        "chat",
        128_000,
        "large",
        "basic",
        False,
        "Mistral's top-tier reasoning and multilingual model.",
        [(LAUNCH, text("2.00", "6.00"))],
    ),
    (
        "mistral/codestral",
        "Codestral",
        "completion",
        256_000,
        "medium",
        "basic",
        False,
        "Code completion with fill-in-the-middle.",
        [(LAUNCH, text("0.30", "0.90"))],
    ),
    (
        "mistral/mistral-embed",
        "Mistral Embed",
        "embedding",
        8_192,
        "small",
        "free",
        False,
        "Embeddings for retrieval.",
        [(LAUNCH, text("0.10", "0"))],
    ),
    (
        "deepseek/deepseek-chat",
        "DeepSeek V3",
        "chat",
        64_000,
        "large",
        "free",
        False,
        "Open-weights mixture-of-experts chat model.",
        [(LAUNCH, text("0.27", "1.10", cached="0.07"))],
    ),
    (
        "deepseek/deepseek-reasoner",
        "DeepSeek R1",
        "chat",
        64_000,
        "large",
        "basic",
        False,
        "Open-weights reasoning model.",
        [(LAUNCH, text("0.55", "2.19", reasoning="2.19", cached="0.14"))],
    ),
    (
        "stability/stable-diffusion-3.5-large",
        "Stable Diffusion 3.5 Large",
        "image",
        None,
        "large",
        "free",
        False,
        "Open image generation model.",
        [(LAUNCH, unit("0.065", "image"))],
    ),
    (
        "stability/stable-fast-3d",
        "Stable Fast 3D",
        "3d",
        None,
        "medium",
        "basic",
        False,
        "A textured 3D asset from a single image in seconds.",
        [(LAUNCH, unit("0.20", "asset"))],
    ),
    (
        "stability/stable-audio-2",
        "Stable Audio 2",
        "music",
        None,
        "medium",
        "basic",
        False,
        "Music and sound effects up to three minutes.",
        [(LAUNCH, unit("0.20", "track"))],
    ),
    (
        "black-forest-labs/flux-1.1-pro",
        "FLUX1.1 [pro]",
        "image",
        None,
        "large",
        "pro",
        False,
        "High-quality, prompt-faithful image generation.",
        [(LAUNCH, unit("0.04", "image"))],
    ),
    (
        "elevenlabs/eleven-multilingual-v2",
        "Eleven Multilingual v2",
        "audio",
        None,
        "large",
        "basic",
        False,
        "Lifelike text to speech in 29 languages.",
        [(LAUNCH, unit("0.003", "second"))],
    ),
    (
        "runway/gen-4-turbo",
        "Gen-4 Turbo",
        "video",
        None,
        "large",
        "pro",
        False,
        "Fast image-to-video generation.",
        [(LAUNCH, unit("0.05", "second"))],
    ),
    (
        "suno/suno-v4",
        "Suno v4",
        "music",
        None,
        "large",
        "pro",
        False,
        "Full songs with vocals from a prompt.",
        [(LAUNCH, unit("0.40", "track"))],
    ),
    (
        "tripo/tripo-v2.5",
        "Tripo v2.5",
        "3d",
        None,
        "large",
        "pro",
        False,
        "Detailed 3D models from text or images.",
        [(LAUNCH, unit("0.50", "asset"))],
    ),
]

# DeepSeek V3's announced price change, scheduled for the first day of next month.
SCHEDULED = ("deepseek/deepseek-chat", text("0.28", "0.42", cached="0.028"))


def first_of_next_month(now: datetime) -> datetime:
    days = monthrange(now.year, now.month)[1] - now.day + 1
    return (now + timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)


class Command(BaseCommand):
    help = "Load (or refresh) the demo model catalogue. Safe to run any number of times."

    @transaction.atomic
    def handle(self, *args, **opts) -> None:
        providers = {
            slug: services.provider_upsert(slug=slug, name=name, website=website)
            for slug, (name, website) in PROVIDERS.items()
        }
        added = 0
        for slug, name, modality, context, size, tier, experimental, description, rates in MODELS:
            model = services.model_upsert(
                slug=slug,
                provider=providers[slug.split("/", 1)[0]],
                display_name=name,
                modality=modality,
                context_length=context,
                size_class=size,
                min_tier=tier,
                experimental=experimental,
                description=description,
            )
            if not model.rates.exists():
                for effective_from, prices in rates:
                    services.rate_add(
                        model=model, effective_from=effective_from, allow_past=True, **prices
                    )
                    added += 1
        added += self._schedule_change()
        self.stdout.write(
            f"Demo catalogue: {len(PROVIDERS)} providers, {len(MODELS)} models, "
            f"{added} rate(s) added."
        )

    def _schedule_change(self) -> int:
        slug, prices = SCHEDULED
        model = AIModel.objects.get(slug=slug)
        if model.rates.filter(**{k: v for k, v in prices.items() if v is not None}).exists():
            return 0
        services.rate_add(model=model, effective_from=first_of_next_month(timezone.now()), **prices)
        return 1
