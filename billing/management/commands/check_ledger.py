from django.core.management.base import BaseCommand, CommandError

from billing.invariants import ledger_violations


class Command(BaseCommand):
    help = (
        "Verify the money invariants for every account: ledger sums equal balances, lots "
        "sum to the lot-backed balance, holds match active reservations, no lot is out of "
        "range, every settled reservation has exactly one usage event."
    )

    def handle(self, *args, **options) -> None:
        problems = ledger_violations()
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(problems)} ledger invariant violation(s)")
        self.stdout.write(self.style.SUCCESS("Ledger OK: every invariant holds."))
