"""The ledger: the only code that changes a balance.

Every change locks the account row, writes one append-only ledger entry with the balance
after it, moves the balance with F(), and draws credit lots down (or adds one) in the
same transaction. Balances never go below zero: debits are checked against what the
account has. Invariants (``manage.py check_ledger``): the sum of an account's entries is
its balance; its lots' remaining plus withheld credits sum to the balance; its `held` is
what active reservations and withheld lots hold.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from accounts.models import Account, User
from billing.errors import InsufficientCredits
from billing.models import DRAW_ORDER, CreditLot, EntryKind, LedgerEntry, LotKind
from billing.money import format_credits
from yunxin.errors import ValidationFailed


def lock_account(account_id: int) -> Account:
    """Every money operation starts here: one row lock per account serializes them."""
    return Account.objects.select_for_update().get(pk=account_id)


def _post(
    account: Account,
    *,
    kind: str,
    amount: int,
    reference: str = "",
    memo: str = "",
    actor: User | None = None,
    lot: CreditLot | None = None,
    held_delta: int = 0,
) -> LedgerEntry:
    """Write one entry and move the balance. The caller holds the account lock."""
    account.balance += amount
    account.held += held_delta
    Account.objects.filter(pk=account.pk).update(
        balance=F("balance") + amount, held=F("held") + held_delta
    )
    return LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=account.balance,
        reference=reference,
        memo=memo[:500],
        actor=actor,
        lot=lot,
    )


def _add_lot(account: Account, *, kind: str, amount: int, memo: str) -> CreditLot:
    return CreditLot.objects.create(
        account=account,
        kind=kind,
        draw_order=DRAW_ORDER[kind],
        amount=amount,
        remaining=amount,
        memo=memo[:255],
    )


# Draw lots down in one statement: each lot gives what is still owed after the lots
# before it in draw order. No row locks are taken here: every writer of an account's lots
# holds that account's row lock (lock_account) for its whole transaction.
_DRAW_SQL = """
WITH ordered AS (
    SELECT id, remaining,
           SUM(remaining) OVER (ORDER BY draw_order, created_at, id) - remaining AS before
    FROM {lot} WHERE account_id = %s AND remaining > 0
)
UPDATE {lot} SET remaining = {lot}.remaining - {least}(ordered.remaining, %s - ordered.before)
FROM ordered WHERE {lot}.id = ordered.id AND ordered.before < %s
"""


def _draw(account: Account, amount: int) -> None:
    """Take `amount` micro-credits out of the account's spendable lots in draw order."""
    if amount <= 0:
        return
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    sql = _DRAW_SQL.format(lot=CreditLot._meta.db_table, least=least)
    with connection.cursor() as cursor:
        cursor.execute(sql, [account.pk, amount, amount])


def credit_account(
    account: Account,
    *,
    kind: str,
    lot_kind: str,
    amount: int,
    reference: str,
    memo: str,
    actor: User | None,
) -> LedgerEntry:
    """Add credits as a new lot. The caller holds the account lock."""
    if amount <= 0:
        raise ValidationFailed("A credit must be a positive amount.")
    lot = _add_lot(account, kind=lot_kind, amount=amount, memo=memo)
    return _post(
        account, kind=kind, amount=amount, reference=reference, memo=memo, actor=actor, lot=lot
    )


def debit_account(
    account: Account,
    *,
    kind: str,
    amount: int,
    reference: str = "",
    memo: str = "",
    actor: User | None = None,
    held_delta: int = 0,
) -> LedgerEntry:
    """Take credits out through the lots. The caller holds the lock and has checked the
    debit against what the account may spend."""
    if amount < 0:
        raise ValidationFailed("A debit must not be negative.")
    _draw(account, amount)
    return _post(
        account,
        kind=kind,
        amount=-amount,
        reference=reference,
        memo=memo,
        actor=actor,
        held_delta=held_delta,
    )


def debit_many(
    account: Account, *, kind: str, debits: list[tuple[int, str, str]]
) -> list[LedgerEntry]:
    """Several debits in one go (a batch of usage): one lot draw and one balance update
    for the total, and one ledger entry per debit with its running balance. The caller
    holds the lock and has decided every debit is allowed."""
    total = sum(amount for amount, _, _ in debits)
    _draw(account, total)
    Account.objects.filter(pk=account.pk).update(balance=F("balance") - total)
    entries = []
    for amount, reference, memo in debits:
        account.balance -= amount
        entries.append(
            LedgerEntry(
                account=account,
                kind=kind,
                amount=-amount,
                balance_after=account.balance,
                reference=reference,
                memo=memo,
            )
        )
    return LedgerEntry.objects.bulk_create(entries)


def lot_hold(account: Account, *, lot: CreditLot, amount: int) -> None:
    """Withhold unspent credits of a lot (a refund running, a dispute open): still part of
    the balance, no longer spendable. The caller holds the account lock."""
    if amount <= 0 or amount > lot.remaining or amount > account.available:
        raise InsufficientCredits(
            f"Only {format_credits(min(lot.remaining, max(account.available, 0)))} credits of "
            "this purchase are unspent and free to withhold."
        )
    CreditLot.objects.filter(pk=lot.pk).update(
        remaining=F("remaining") - amount, held=F("held") + amount
    )
    Account.objects.filter(pk=account.pk).update(held=F("held") + amount)
    lot.remaining, lot.held, account.held = (
        lot.remaining - amount,
        lot.held + amount,
        account.held + amount,
    )


def lot_release(account: Account, *, lot: CreditLot, amount: int) -> None:
    """Give withheld credits back to the lot, spendable again."""
    amount = min(amount, lot.held)
    if amount <= 0:
        return
    CreditLot.objects.filter(pk=lot.pk).update(
        remaining=F("remaining") + amount, held=F("held") - amount
    )
    Account.objects.filter(pk=account.pk).update(held=F("held") - amount)
    lot.remaining, lot.held, account.held = (
        lot.remaining + amount,
        lot.held - amount,
        account.held - amount,
    )


def lot_debit_held(
    account: Account,
    *,
    lot: CreditLot,
    amount: int,
    kind: str,
    reference: str,
    memo: str,
    actor: User | None = None,
) -> LedgerEntry:
    """Take withheld credits out of the balance for good (a refund paid, a dispute lost)."""
    if amount <= 0 or amount > lot.held:
        raise ValidationFailed("Only withheld credits can be taken out this way.")
    CreditLot.objects.filter(pk=lot.pk).update(held=F("held") - amount)
    lot.held -= amount
    return _post(
        account,
        kind=kind,
        amount=-amount,
        reference=reference,
        memo=memo,
        actor=actor,
        lot=lot,
        held_delta=-amount,
    )


@transaction.atomic
def credits_grant_starter(*, account_id: int) -> LedgerEntry | None:
    """The starter credit, once per account (a unique constraint makes "once" hold
    even against a concurrent second call)."""
    amount = settings.STARTER_CREDIT_MICRO
    if amount <= 0:
        return None
    account = lock_account(account_id)
    if CreditLot.objects.filter(account=account, kind=LotKind.STARTER).exists():
        return None
    try:
        with transaction.atomic():
            return credit_account(
                account,
                kind=EntryKind.STARTER,
                lot_kind=LotKind.STARTER,
                amount=amount,
                reference=f"starter:{account.pk}",
                memo="Starter credit",
                actor=None,
            )
    except IntegrityError:
        return None


@transaction.atomic
def credits_grant(*, account_id: int, amount: int, reason: str, actor: User | None) -> LedgerEntry:
    """Staff grant: a lot of non-refundable credits, with who and why."""
    if not reason.strip():
        raise ValidationFailed("Say why the credits are granted.")
    account = lock_account(account_id)
    return credit_account(
        account,
        kind=EntryKind.GRANT,
        lot_kind=LotKind.GRANT,
        amount=amount,
        reference=f"grant:{actor.pk if actor else 'system'}",
        memo=reason.strip(),
        actor=actor,
    )


@transaction.atomic
def credits_deduct(*, account_id: int, amount: int, reason: str, actor: User | None) -> LedgerEntry:
    """Staff deduction. Never more than the available balance (held credits stay)."""
    if not reason.strip():
        raise ValidationFailed("Say why the credits are deducted.")
    if amount <= 0:
        raise ValidationFailed("A deduction must be a positive amount.")
    account = lock_account(account_id)
    if amount > account.available:
        raise InsufficientCredits(
            f"Cannot deduct {format_credits(amount)}: only {format_credits(account.available)} "
            "credits are available."
        )
    return debit_account(
        account,
        kind=EntryKind.DEDUCT,
        amount=amount,
        reference=f"deduct:{actor.pk if actor else 'system'}",
        memo=reason.strip(),
        actor=actor,
    )
