"""Real-time metering: authorize (reserve), settle (charge), record (one-shot charge).

Concurrency: every step that moves money locks the account row first (ledger.lock_account)
and re-reads what it decides on, so concurrent requests for one account run one at a time
through the money part while different accounts never wait on each other. Authorize
reserves the worst case against `balance - held`, so spending can never exceed what the
account had. Idempotency: authorize by request id (Reservation.request_id is UNIQUE),
settle by reservation (one UsageEvent per reservation), record by request id
(UsageEvent.request_id is UNIQUE). A repeat with the same body answers what the first
call answered; a different body is an idempotency conflict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import Account, ApiKey
from accounts.selectors import api_key_period_spent, period_start
from accounts.services import api_key_authenticate
from accounts.webhooks.triggers import webhooks_after_charge, webhooks_key_limit_refused
from analytics.models import UsageEvent, UsageSource
from analytics.services import usage_rollups_add
from billing import ratelimit
from billing.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    KeyLimitExceeded,
    RateLimited,
)
from billing.models import EntryKind, Reservation, ReservationStatus
from billing.money import format_credits
from billing.services.ledger import debit_account, lock_account
from models_catalog.models import AIModel, Rate
from models_catalog.pricing import Usage, cost_micro
from models_catalog.selectors import model_get
from models_catalog.services import model_access_check
from yunxin.errors import DomainError, NotFound, ValidationFailed


@dataclass(frozen=True)
class Authorized:
    reservation: Reservation
    available: int
    ratelimit: ratelimit.Decision
    replayed: bool = False


@dataclass(frozen=True)
class Charged:
    event: UsageEvent
    replayed: bool = False


def fingerprint(payload: dict) -> str:
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def tier_limit_name(account: Account) -> str:
    return f"tier:{account.pk}"


# --- checks shared by authorize and record ----------------------------------------------


def check_usage_fits_model(model: AIModel, usage: Usage) -> None:
    tokens = usage.input_tokens + usage.output_tokens + usage.reasoning_tokens
    tokens += usage.cached_input_tokens
    if model.is_text and usage.units:
        raise ValidationFailed(f"{model.slug} is priced per token: send token counts, not units.")
    if not model.is_text and tokens:
        raise ValidationFailed(f"{model.slug} is priced per unit: send units, not tokens.")


def _model_and_rate(
    account: Account, slug: str, at: datetime | None = None
) -> tuple[AIModel, Rate]:
    """The model and its rate in force, in one query on the hot path."""
    rate = (
        Rate.objects.select_related("model")
        .filter(model__slug=slug, model__active=True, model__provider__active=True)
        .filter(effective_from__lte=at or timezone.now())
        .order_by("-effective_from")
        .first()
    )
    model = rate.model if rate else model_get(slug=slug)  # NotFound for an unknown model
    model_access_check(account=account, model=model)
    if rate is None:
        raise NotFound(f"{slug} has no price in force.")
    return model, rate


def key_limit_room(key: ApiKey, now: datetime, *, exact: bool) -> int | None:
    """How much more the key may spend (None: no limit). `exact`, under the account lock,
    also counts the key's active reservations."""
    if key.credit_limit is None:
        return None
    used = api_key_period_spent(key, now)
    if exact:
        held = Reservation.objects.filter(api_key=key, status=ReservationStatus.ACTIVE)
        used += held.aggregate(s=Sum("reserved"))["s"] or 0
    return key.credit_limit - used


def check_key_limit(key: ApiKey, amount: int, room: int | None) -> None:
    if room is not None and amount > room:
        raise KeyLimitExceeded(
            f"This key's credit limit allows {format_credits(max(room, 0))} more credits"
            f"{' this period' if key.limit_period else ''}; the request needs "
            f"{format_credits(amount)}."
        )


def count_key_spend(key: ApiKey, amount: int, now: datetime) -> None:
    """Spend is tracked only while a key has a limit (setting one starts counting)."""
    if key.credit_limit is None:
        return
    start = period_start(key.limit_period, now)
    spent = api_key_period_spent(key, now) + amount
    ApiKey.objects.filter(pk=key.pk).update(period_spent=spent, period_started_at=start or now)
    key.period_spent, key.period_started_at = spent, start or now


def check_available(available: int, amount: int) -> None:
    if amount > available:
        raise InsufficientCredits(
            f"Insufficient credits: this request needs up to {format_credits(amount)}, "
            f"{format_credits(available)} are available "
            f"(short by {format_credits(amount - available)}).",
            shortfall=format_credits(amount - available),
        )


# --- authorize ---------------------------------------------------------------------------


def worst_case_cost(
    rate: Rate, *, max_input_tokens: int, max_output_tokens: int, units: Decimal
) -> int:
    """The most a request can cost: all input at the dearer of the input and cached-input
    prices, all of max_tokens at the dearer of the output and reasoning prices."""
    if rate.is_unit_priced:
        return cost_micro(rate, Usage(units=units))
    dearest_in = max(rate.input_per_mtok, rate.cached_input_per_mtok or 0)
    dearest_out = max(rate.output_per_mtok, rate.reasoning_per_mtok or 0)
    worst = Rate(input_per_mtok=dearest_in, output_per_mtok=dearest_out)
    return cost_micro(worst, Usage(input_tokens=max_input_tokens, output_tokens=max_output_tokens))


def _authorize_replay(request_id: str, fp: str) -> Authorized | None:
    existing = Reservation.objects.select_related("account").filter(request_id=request_id).first()
    if existing is None:
        if UsageEvent.objects.filter(request_id=request_id).exists():
            raise IdempotencyConflict("This request id was already used by a recorded request.")
        return None
    if existing.fingerprint != fp:
        raise IdempotencyConflict()
    account = existing.account
    limit = ratelimit.peek(tier_limit_name(account), account.tier_info.rate_limit_per_minute)
    return Authorized(existing, account.available, limit, replayed=True)


def usage_authorize(
    *,
    request_id: str,
    api_key: str,
    model: str,
    max_input_tokens: int = 0,
    max_output_tokens: int = 0,
    units: Decimal = Decimal(0),
) -> Authorized:
    """Check the key, the model, the tier, the key's limit and the rate limit, in that
    order, then reserve the worst-case cost against the available balance. Every answer
    after the key check carries the priority and rate-limit headers."""
    usage = Usage(input_tokens=max_input_tokens, output_tokens=max_output_tokens, units=units)
    fp = fingerprint(
        {
            "op": "authorize",
            "request_id": request_id,
            "api_key": api_key,
            "model": model,
            "in": max_input_tokens,
            "out": max_output_tokens,
            "units": str(units),
        }
    )
    replay = _authorize_replay(request_id, fp)
    if replay:
        return replay
    key = api_key_authenticate(raw_key=api_key)
    account = key.account
    limit = account.tier_info.rate_limit_per_minute
    try:
        return _authorize(request_id, fp, key, model, usage)
    except DomainError as exc:
        exc.headers.setdefault("X-Request-Priority", str(account.tier_info.priority))
        if "X-RateLimit-Limit" not in exc.headers:
            exc.headers.update(ratelimit.peek(tier_limit_name(account), limit).headers())
        if isinstance(exc, KeyLimitExceeded):
            webhooks_key_limit_refused(key=key)  # `api_key.limit_reached`, once per period
        raise


def _authorize(request_id: str, fp: str, key: ApiKey, model: str, usage: Usage) -> Authorized:
    account = key.account
    ai_model, rate = _model_and_rate(account, model)
    check_usage_fits_model(ai_model, usage)
    if not (usage.output_tokens if ai_model.is_text else usage.units):
        raise ValidationFailed(
            "Say how large the request may get: max_output_tokens for token-priced models, "
            "units for per-unit models."
        )
    worst = worst_case_cost(
        rate,
        max_input_tokens=usage.input_tokens,
        max_output_tokens=usage.output_tokens,
        units=usage.units,
    )
    now = timezone.now()
    check_key_limit(key, worst, key_limit_room(key, now, exact=False))
    decision = ratelimit.hit(tier_limit_name(account), account.tier_info.rate_limit_per_minute)
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit of {decision.limit} requests per minute reached for the "
            f"{account.tier_info.label} tier; retry in {decision.retry_after} s.",
            headers=decision.headers(),
        )
    try:
        return _reserve(request_id, fp, key, ai_model, rate, worst, decision, now)
    except IntegrityError:
        ratelimit.release(decision)  # a concurrent duplicate won the race: answer as it did
        replay = _authorize_replay(request_id, fp)
        if replay:
            return replay
        raise
    except DomainError as exc:
        ratelimit.release(decision)  # a denied request counts nothing
        exc.headers.update(decision.given_back().headers())
        raise


@transaction.atomic
def _reserve(request_id, fp, key, ai_model, rate, worst, decision, now) -> Authorized:
    account = lock_account(key.account_id)
    check_key_limit(key, worst, key_limit_room(key, now, exact=True))
    check_available(account.available, worst)
    reservation = Reservation.objects.create(
        request_id=request_id,
        fingerprint=fp,
        account=account,
        api_key=key,
        model=ai_model,
        rate=rate,
        reserved=worst,
        priority=account.tier_info.priority,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.RESERVATION_TTL_SECONDS),
    )
    Account.objects.filter(pk=account.pk).update(held=F("held") + worst)
    return Authorized(reservation, account.available - worst, decision)


# --- settle ------------------------------------------------------------------------------


def usage_settle(*, reservation_id: str, usage: Usage) -> Charged:
    """Charge the actual usage at the reservation's rate and release the rest. Settling
    twice charges once. Usage beyond the reservation is still charged (it happened) and
    the ledger entry says by how much it exceeded."""
    reservation = Reservation.objects.filter(pk=reservation_id).only("account_id").first()
    if reservation is None:
        raise NotFound("No such reservation.")
    fp = fingerprint({"op": "settle", "reservation": str(reservation_id), **usage.__dict__})
    return _settle(reservation.account_id, reservation_id, usage, fp)


def _settle_charge(reservation: Reservation, usage: Usage, payable: int, was_active: bool):
    """(amount to charge, ledger memo). Usage beyond the reservation is charged as far as
    the account's credits go and never further: spending never exceeds what it had. What
    could not be charged is said in the memo."""
    cost = cost_micro(reservation.rate, usage)
    memo = reservation.model.slug
    over = cost - reservation.reserved
    if over > 0:
        memo += f"; actual usage exceeded the reservation by {format_credits(over)}"
    if not was_active:
        memo += "; settled after the reservation expired"
    if cost > payable:
        memo += f"; {format_credits(cost - payable)} could not be charged (no credits left)"
        cost = payable
    return max(cost, 0), memo


@transaction.atomic
def _settle(account_id: int, reservation_id: str, usage: Usage, fp: str) -> Charged:
    account = lock_account(account_id)
    reservation = Reservation.objects.select_related("rate", "model", "api_key").get(
        pk=reservation_id
    )
    if reservation.status == ReservationStatus.SETTLED:
        event = UsageEvent.objects.get(reservation=reservation)
        if event.fingerprint != fp:
            raise IdempotencyConflict("This reservation was already settled with other usage.")
        return Charged(event, replayed=True)
    check_usage_fits_model(reservation.model, usage)
    was_active = reservation.status == ReservationStatus.ACTIVE
    released = reservation.reserved if was_active else 0
    cost, memo = _settle_charge(reservation, usage, account.available + released, was_active)
    now = timezone.now()
    entry = debit_account(
        account,
        kind=EntryKind.USAGE,
        amount=cost,
        reference=reservation.request_id,
        memo=memo,
        held_delta=-released,
    )
    count_key_spend(reservation.api_key, cost, now)
    webhooks_after_charge(account=account, amount=cost)  # low-balance / depleted webhooks
    event = build_usage_event(
        reservation.request_id,
        fp,
        UsageSource.SETTLE,
        account,
        reservation.api_key,
        reservation.model,
        reservation.rate,
        usage,
        cost,
        entry.balance_after,
        reservation.priority,
        now,
        reservation=reservation,
    )
    event.save(force_insert=True)
    usage_rollups_add(events=[event])
    reservation.status, reservation.closed_at = ReservationStatus.SETTLED, now
    reservation.save(update_fields=["status", "closed_at"])
    return Charged(event)


def build_usage_event(
    request_id,
    fp,
    source,
    account,
    key,
    model,
    rate,
    usage: Usage,
    cost,
    balance_after,
    priority,
    occurred_at,
    reservation=None,
) -> UsageEvent:
    """An unsaved usage event (saved singly, or in bulk by a batch)."""
    return UsageEvent(
        request_id=request_id,
        fingerprint=fp,
        source=source,
        account=account,
        api_key=key,
        model=model,
        rate=rate,
        reservation=reservation,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        units=usage.units,
        cost=cost,
        balance_after=balance_after,
        priority=priority,
        occurred_at=occurred_at,
    )


# --- record ------------------------------------------------------------------------------


def _record_replay(request_id: str, fp: str, *, check_reservations: bool = False) -> Charged | None:
    event = UsageEvent.objects.filter(request_id=request_id).first()
    if event is None:
        # Only after a failed insert is it worth asking whether an authorized request took
        # this id (the hot path spares the query; the UNIQUE constraint catches it anyway).
        if check_reservations and Reservation.objects.filter(request_id=request_id).exists():
            raise IdempotencyConflict("This request id belongs to an authorized request.")
        return None
    if event.fingerprint != fp:
        raise IdempotencyConflict()
    return Charged(event, replayed=True)


def record_fingerprint(request_id, api_key, model, usage: Usage, occurred_at) -> str:
    return fingerprint(
        {
            "op": "record",
            "request_id": request_id,
            "api_key": api_key,
            "model": model,
            "at": occurred_at,
            **usage.__dict__,
        }
    )


def check_occurred_at(occurred_at: datetime | None, now: datetime) -> None:
    if occurred_at is None:
        return
    if occurred_at > now + timedelta(minutes=5):
        raise ValidationFailed("occurred_at is in the future.")
    if occurred_at < now - timedelta(days=settings.RECORD_MAX_AGE_DAYS):
        raise ValidationFailed(f"occurred_at is older than {settings.RECORD_MAX_AGE_DAYS} days.")


def usage_record(
    *, request_id: str, api_key: str, model: str, usage: Usage, occurred_at: datetime | None = None
) -> Charged:
    """Charge work that was not authorized first (batch jobs, imports), at the rate in
    force when it occurred. Not rate limited; refused (402) beyond the available balance
    or the key's limit, so a batch can never overdraw an account."""
    fp = record_fingerprint(request_id, api_key, model, usage, occurred_at)
    replay = _record_replay(request_id, fp)
    if replay:
        return replay
    now = timezone.now()
    check_occurred_at(occurred_at, now)
    occurred_at = occurred_at or now
    key = api_key_authenticate(raw_key=api_key)
    ai_model, rate = _model_and_rate(key.account, model, at=occurred_at)
    check_usage_fits_model(ai_model, usage)
    cost = cost_micro(rate, usage)
    check_key_limit(key, cost, key_limit_room(key, now, exact=False))
    try:
        return _record(request_id, fp, key, ai_model, rate, usage, cost, occurred_at, now)
    except IntegrityError:
        replay = _record_replay(request_id, fp, check_reservations=True)
        if replay:
            return replay
        raise


@transaction.atomic
def _record(request_id, fp, key, ai_model, rate, usage, cost, occurred_at, now) -> Charged:
    account = lock_account(key.account_id)
    check_key_limit(key, cost, key_limit_room(key, now, exact=True))
    check_available(account.available, cost)
    entry = debit_account(
        account, kind=EntryKind.USAGE, amount=cost, reference=request_id, memo=ai_model.slug
    )
    count_key_spend(key, cost, now)
    webhooks_after_charge(account=account, amount=cost)  # low-balance / depleted webhooks
    event = build_usage_event(
        request_id,
        fp,
        UsageSource.RECORD,
        account,
        key,
        ai_model,
        rate,
        usage,
        cost,
        entry.balance_after,
        account.tier_info.priority,
        occurred_at,
    )
    event.save(force_insert=True)
    usage_rollups_add(events=[event])
    return Charged(event)


# --- expiry ------------------------------------------------------------------------------


def reservations_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Release reservations not settled in time. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    due = Reservation.objects.filter(status=ReservationStatus.ACTIVE, expires_at__lt=now)
    released = 0
    for reservation_id, account_id in due.values_list("id", "account_id")[:batch]:
        released += _release(account_id, reservation_id, now)
    return released


@transaction.atomic
def _release(account_id: int, reservation_id, now: datetime) -> int:
    account = lock_account(account_id)
    reservation = Reservation.objects.get(pk=reservation_id)
    if reservation.status != ReservationStatus.ACTIVE:
        return 0  # settled or released meanwhile
    reservation.status, reservation.closed_at = ReservationStatus.EXPIRED, now
    reservation.save(update_fields=["status", "closed_at"])
    Account.objects.filter(pk=account.pk).update(held=F("held") - reservation.reserved)
    return 1


__all__ = [
    "Authorized",
    "Charged",
    "reservations_expire",
    "usage_authorize",
    "usage_record",
    "usage_settle",
    "worst_case_cost",
]
