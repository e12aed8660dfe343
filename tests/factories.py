from datetime import timedelta

import factory
from django.utils import timezone

from accounts import services
from accounts.models import User
from models_catalog.models import TEXT_MODALITIES, AIModel, Provider
from models_catalog.services import rate_add


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save(update_fields=["password"])


def make_account(tier: str = "free", email: str | None = None):
    user = UserFactory(**({"email": email} if email else {}))
    account = user.account
    if tier != account.tier:
        account = services.account_set_tier(account_id=account.pk, tier=tier, actor=None)
    return account


def make_key(account, name: str = "test key"):
    """(ApiKey, full secret)."""
    return services.api_key_create(account=account, name=name, created_by=account.owner)


# --- Model catalogue ------------------------------------------------------------------
UNIT_OF = {"image": "image", "audio": "second", "video": "second", "3d": "asset", "music": "track"}


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"provider{n}")
    name = factory.LazyAttribute(lambda p: p.slug.title())


class AIModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIModel

    provider = factory.SubFactory(ProviderFactory)
    slug = factory.LazyAttributeSequence(lambda m, n: f"{m.provider.slug}/model-{n}")
    display_name = factory.LazyAttribute(lambda m: m.slug.split("/", 1)[1].title())
    modality = "chat"
    context_length = factory.LazyAttribute(
        lambda m: 128_000 if m.modality in TEXT_MODALITIES else None
    )
    min_tier = "free"


def make_priced_model(*, prices: dict | None = None, since=None, **fields) -> AIModel:
    """A catalogue model with one rate in force since `since` (default 30 days ago).
    Text models cost 1 in / 2 out per 1M tokens by default, others 0.04 per unit."""
    model = AIModelFactory(**fields)
    if prices is None:
        prices = (
            {"input_per_mtok": "1", "output_per_mtok": "2"}
            if model.is_text
            else {"unit_price": "0.04", "unit": UNIT_OF[model.modality]}
        )
    rate_add(
        model=model,
        effective_from=since or timezone.now() - timedelta(days=30),
        allow_past=True,
        **prices,
    )
    return model
