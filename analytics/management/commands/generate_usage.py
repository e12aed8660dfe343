from django.core.management.base import BaseCommand, CommandError

from analytics.generator import usage_generate


class Command(BaseCommand):
    help = (
        "Generate realistic usage events (several accounts, keys and models over the last "
        "N days), charged through the ledger and rolled up, for scale tests and demos. "
        "Uses COPY on PostgreSQL: `--events 10000000` takes minutes, not hours."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--events", type=int, default=100_000)
        parser.add_argument("--accounts", type=int, default=6)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--email",
            help="Give the heaviest usage to this existing user's account (e.g. the demo "
            "customer, to see the Analytics page full).",
        )

    def handle(self, *args, **opts) -> None:
        if opts["events"] < 1 or opts["accounts"] < 1 or not 1 <= opts["days"] <= 366:
            raise CommandError("Need --events ≥ 1, --accounts ≥ 1 and --days from 1 to 366.")
        result = usage_generate(
            events=opts["events"],
            accounts=opts["accounts"],
            days=opts["days"],
            seed=opts["seed"],
            email=opts["email"],
            progress=self.stdout.write,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.events:,} usage events in {result.seconds:.1f} s "
                f"({result.events / max(result.seconds, 1e-9):,.0f}/s)."
            )
        )
        for account in result.accounts:
            n = result.by_account.get(account.pk, 0)
            self.stdout.write(
                f"  account {account.pk} {account.owner.email} ({account.tier}): {n:,}"
            )
