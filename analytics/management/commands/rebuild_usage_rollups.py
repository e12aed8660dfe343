from django.core.management.base import BaseCommand

from accounts.models import Account
from analytics.services import usage_rollups_rebuild


class Command(BaseCommand):
    help = (
        "Recompute usage rollups from the usage events, one account at a time under its "
        "lock (metering waits for it, nothing is missed). Safe to run at any time."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", type=int, action="append", help="account id (repeatable)")

    def handle(self, *args, **opts) -> None:
        ids = opts["account"] or list(
            Account.objects.filter(usage_events__isnull=False)
            .distinct()
            .values_list("pk", flat=True)
        )
        for account_id in ids:
            rows = usage_rollups_rebuild(account_id=account_id)
            self.stdout.write(f"account {account_id}: {rows} hourly rows")
