"""The ledger's invariants, checked for every account by `manage.py check_ledger` and by
the tests after every money scenario. Each check is one grouped query."""

from __future__ import annotations

from django.db.models import Count, F, Q, Sum

from accounts.models import Account
from analytics.models import UsageEvent
from billing.models import CreditLot, LedgerEntry, Reservation, ReservationStatus


def ledger_violations() -> list[str]:
    problems: list[str] = []
    entry_sums = dict(
        LedgerEntry.objects.values("account").annotate(s=Sum("amount")).values_list("account", "s")
    )
    lot_sums = dict(
        CreditLot.objects.values("account")
        .annotate(s=Sum(F("remaining") + F("held")))
        .values_list("account", "s")
    )
    lot_held = dict(
        CreditLot.objects.filter(held__gt=0)
        .values("account")
        .annotate(s=Sum("held"))
        .values_list("account", "s")
    )
    held_sums = dict(
        Reservation.objects.filter(status=ReservationStatus.ACTIVE)
        .values("account")
        .annotate(s=Sum("reserved"))
        .values_list("account", "s")
    )
    for pk, balance, held in Account.objects.values_list("pk", "balance", "held").iterator():
        entries = entry_sums.get(pk, 0)
        if entries != balance:
            problems.append(f"account {pk}: ledger entries sum to {entries}, balance is {balance}")
        lots = lot_sums.get(pk, 0)
        if lots != max(balance, 0):
            problems.append(
                f"account {pk}: lots hold {lots}, lot-backed balance is {max(balance, 0)}"
            )
        expected_held = held_sums.get(pk, 0) + lot_held.get(pk, 0)
        if held != expected_held:
            problems.append(
                f"account {pk}: held is {held}, reservations and withheld lots hold {expected_held}"
            )
    bad_lots = CreditLot.objects.filter(
        Q(remaining__lt=0) | Q(held__lt=0) | Q(remaining__gt=F("amount") - F("held"))
    )
    problems += [
        f"lot {pk}: remaining {r} outside 0..{a}"
        for pk, r, a in bad_lots.values_list("pk", "remaining", "amount")
    ]
    settled = Reservation.objects.filter(status=ReservationStatus.SETTLED).annotate(
        events=Count("usageevent")
    )
    problems += [
        f"reservation {pk}: settled with {n} usage events"
        for pk, n in settled.exclude(events=1).values_list("pk", "events")
    ]
    unsettled = UsageEvent.objects.filter(reservation__isnull=False).exclude(
        reservation__status=ReservationStatus.SETTLED
    )
    problems += [
        f"usage event {rid}: its reservation is not settled"
        for rid in unsettled.values_list("request_id", flat=True)
    ]
    return problems
