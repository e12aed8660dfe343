from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import User
from accounts.services import account_create_for_user


@receiver(post_save, sender=User, dispatch_uid="accounts.user_gets_account")
def user_gets_account(sender, instance: User, created: bool, raw: bool = False, **kwargs) -> None:
    # However a user is made (sign-up, admin, createsuperuser, a command), it gets its
    # billing Account in the same transaction.
    if created and not raw:
        account_create_for_user(user=instance)
