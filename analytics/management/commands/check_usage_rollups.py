from django.core.management.base import BaseCommand, CommandError

from analytics.invariants import rollup_violations


class Command(BaseCommand):
    help = (
        "Check that every account's usage rollups equal its usage ledger entries (to the "
        "micro-credit) and, with --deep, its usage events hour by hour."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--deep", action="store_true", help="also compare every hour")

    def handle(self, *args, **opts) -> None:
        problems = rollup_violations(deep=opts["deep"])
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(
                f"{len(problems)} rollup problem(s); `manage.py rebuild_usage_rollups "
                "--account ID` recomputes an account's rollups from its events."
            )
        self.stdout.write(self.style.SUCCESS("Usage rollups agree with the ledger."))
