import factory

from accounts import services
from accounts.models import User


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
