from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.models import ApiKey, User
from billing.services.products import demo_products_ensure

DEMO_KEY_NAME = "Demo key (make run)"


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo customer and a staff user, and issue a fresh demo API "
        "key, printing how to log in. Safe to run any number of times."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", default="demo@yunxin.local")
        parser.add_argument("--password", default="yunxin-demo-2026")
        parser.add_argument("--staff-email", default="admin@yunxin.local")
        parser.add_argument("--staff-password", default="yunxin-admin-2026")

    @transaction.atomic
    def handle(self, *args, **opts) -> None:
        demo_products_ensure()
        demo = self._user(opts["email"], opts["password"], staff=False)
        self._user(opts["staff_email"], opts["staff_password"], staff=True)
        account = services.account_create_for_user(user=demo)
        # Secrets are stored hashed, so the previous demo key cannot be shown again:
        # revoke it and issue a new one for this run.
        for key in ApiKey.objects.active().filter(account=account, name=DEMO_KEY_NAME):
            services.api_key_revoke(account=account, key_id=key.pk)
        _, secret = services.api_key_create(account=account, name=DEMO_KEY_NAME, created_by=None)
        site = settings.SITE_URL.rstrip("/")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Yunxin portal is starting.",
                    f"  Dashboard:  {site}/",
                    f"  Customer:   {opts['email']} / {opts['password']}",
                    f"  Staff:      {site}/admin/",
                    f"              {opts['staff_email']} / {opts['staff_password']}",
                    f"  API key:    {secret}",
                    f"  Try it:     curl -H 'Authorization: Bearer {secret}' {site}/api/auth/me",
                    f"  Metering:   service token {settings.METERING_SERVICE_TOKEN or '(unset)'}",
                    "  Meter one:  curl -X POST -H 'Content-Type: application/json' "
                    f"-H 'Authorization: Bearer {settings.METERING_SERVICE_TOKEN}' "
                    f'-d \'{{"request_id": "demo-{secret[3:15]}", "api_key": "{secret}", '
                    '"model": "meta/llama-3.1-8b-instruct", "input_tokens": 1000, '
                    f'"output_tokens": 500}}\' {site}/api/metering/record',
                    "",
                ]
            )
        )

    def _user(self, email: str, password: str, *, staff: bool) -> User:
        from allauth.account.models import EmailAddress

        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email, password=password, is_staff=staff, is_superuser=staff
            )
        else:  # a development seed: the printed password is always the one that works
            user.set_password(password)
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        return user
