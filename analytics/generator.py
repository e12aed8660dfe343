"""Realistic usage for scale tests and demos (`manage.py generate_usage`, `make bench`).

Several accounts of different tiers and sizes (the first is the heaviest), each with a
few API keys and a handful of the catalogue's models it may use, over the last N days:
traffic grows over the period, dips at weekends and follows the time of day. Every event
is priced like metering prices it (the rate in force when it occurred, `cost_micro`) and
charged through the ledger (`debit_many` under the account lock, one usage entry per
event, staff grants topping the account up first), and its rollups are added in the same
transaction, one transaction per day of events. So the ledger invariants and "rollups
equal the usage ledger" hold for generated data exactly as for metered data.

Events are inserted in time order (as a live system inserts them) with COPY on
PostgreSQL, bulk_create elsewhere.
"""

from __future__ import annotations

import hashlib
import io
import random
import time
import uuid
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account, ApiKey, User
from analytics.models import UsageEvent, UsageSource
from analytics.services import Deltas, deltas_add, units_micro, usage_rollups_apply
from billing.models import EntryKind
from billing.money import MICRO
from billing.services import ledger
from models_catalog.models import AIModel, Rate
from models_catalog.pricing import Usage, cost_micro
from models_catalog.selectors import listed_models
from models_catalog.services import accessible_models_q

TIERS = ("enterprise", "pro", "basic", "enterprise", "free", "pro", "basic", "free")
KEY_NAMES = ("production", "staging", "batch jobs", "notebook")
# Share of a day's traffic per UTC hour: quiet nights, a working-day peak.
HOUR_SHAPE = (3, 2, 2, 2, 2, 3, 4, 6, 8, 10, 11, 12, 12, 12, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3)
MODALITY_WEIGHT = {"chat": 6, "completion": 1, "embedding": 2}
TOP_UP = 1_000 * MICRO  # the least a grant adds when an account runs low
COPY_COLUMNS = (
    "request_id",
    "fingerprint",
    "source",
    "account_id",
    "api_key_id",
    "model_id",
    "rate_id",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cached_input_tokens",
    "units",
    "cost",
    "balance_after",
    "priority",
    "occurred_at",
    "created_at",
)


@dataclass
class Profile:
    account: Account
    keys: list[ApiKey]
    key_weights: list[int]  # cumulative
    models: list[AIModel]
    model_weights: list[float]  # cumulative
    rates: dict[int, list[Rate]]  # model id -> rates, oldest first


@dataclass
class Generated:
    accounts: list[Account]
    events: int = 0
    seconds: float = 0.0
    by_account: dict[int, int] = field(default_factory=dict)


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- sample data, not secrets


def _priced_since(start: datetime):
    """Models with a price in force over the whole period."""
    return listed_models().filter(rates__effective_from__lte=start).distinct()


def _ensure_catalogue(start: datetime) -> None:
    """The demo catalogue (idempotent) unless enough models were priced all along."""
    if _priced_since(start).count() < 3:
        call_command("load_demo_catalog", stdout=io.StringIO())


def _account(i: int, run: str, email: str | None) -> Account:
    if i == 0 and email:
        user = User.objects.get(email=email)
        return account_services.account_create_for_user(user=user)
    user = User.objects.create_user(email=f"usage-{run}-{i}@example.com")
    account = Account.objects.get(owner=user)
    return account_services.account_set_tier(
        account_id=account.pk, tier=TIERS[i % len(TIERS)], actor=None, reason="generated usage"
    )


def _profile(rng: random.Random, account: Account, heavy: bool, start: datetime) -> Profile:
    names = KEY_NAMES[: 4 if heavy else rng.randint(2, 3)]
    keys = [
        account_services.api_key_create(account=account, name=name, created_by=None)[0]
        for name in names
    ]
    usable = list(_priced_since(start).filter(accessible_models_q(tier=account.tier)))
    weights = [MODALITY_WEIGHT.get(m.modality, 1) for m in usable]
    wanted = min(len(usable), 8 if heavy else rng.randint(3, 6))
    models: list[AIModel] = []
    while len(models) < wanted:
        pick = rng.choices(usable, weights=weights)[0]
        if pick not in models:
            models.append(pick)
    rates: dict[int, list[Rate]] = {m.pk: [] for m in models}
    for rate in Rate.objects.filter(model__in=models).order_by("effective_from"):
        rates[rate.model_id].append(rate)
    return Profile(
        account=account,
        keys=keys,
        key_weights=list(accumulate(8 // (i + 1) for i in range(len(keys)))),
        models=models,
        model_weights=list(accumulate(1 / (i + 1) for i in range(len(models)))),
        rates=rates,
    )


def _usage(rng: random.Random, model: AIModel, rate: Rate) -> Usage:
    if model.modality == "embedding":
        return Usage(input_tokens=int(rng.lognormvariate(5.5, 1.0)) + 1)
    if model.is_text:
        given = int(rng.lognormvariate(6.6, 1.0)) + 1
        cached = 0
        if rate.cached_input_per_mtok is not None and rng.random() < 0.3:
            cached = given * rng.randint(20, 90) // 100
        reasoning = 0
        if rate.reasoning_per_mtok is not None and rng.random() < 0.6:
            reasoning = int(rng.lognormvariate(6.2, 0.8))
        return Usage(
            input_tokens=given - cached,
            output_tokens=int(rng.lognormvariate(5.4, 0.9)) + 1,
            reasoning_tokens=reasoning,
            cached_input_tokens=cached,
        )
    if model.modality in ("audio", "video"):
        top = 120 if model.modality == "audio" else 20
        return Usage(units=Decimal(rng.randint(5, top)))
    return Usage(units=Decimal(rng.choice((1, 1, 1, 2, 4))))


def _rate_at(rates: list[Rate], moment: datetime) -> Rate | None:
    i = bisect([r.effective_from for r in rates], moment)
    return rates[i - 1] if i else None


def _day_counts(events: int, start: datetime, days: int) -> list[int]:
    """Events per day: growing over the period, fewer at weekends."""
    weights = []
    for d in range(days):
        weekday = (start + timedelta(days=d)).weekday()
        weights.append((days + 2 * d) * (6 if weekday >= 5 else 10))
    total = sum(weights)
    counts = [events * w // total for w in weights]
    counts[-1] += events - sum(counts)
    return counts


def _day_events(rng, profiles, account_weights, start: datetime, count: int, ids) -> list[list]:
    """One day of events in time order: [moment, profile, key, model, rate, usage, cost]."""
    shape = list(accumulate(HOUR_SHAPE[(start.hour + h) % 24] for h in range(24)))
    rows = []
    for p in rng.choices(profiles, cum_weights=account_weights, k=count):
        hour = rng.choices(range(24), cum_weights=shape)[0]
        moment = start + timedelta(microseconds=hour * 3_600_000_000 + rng.randrange(3_600_000_000))
        model = rng.choices(p.models, cum_weights=p.model_weights)[0]
        rate = _rate_at(p.rates[model.pk], moment)
        if rate is None:  # cannot happen: models are chosen among those priced all along
            raise RuntimeError(f"{model.slug} has no price at {moment}")
        key = rng.choices(p.keys, cum_weights=p.key_weights)[0]
        usage = _usage(rng, model, rate)
        rows.append([moment, p, key, model, rate, usage, cost_micro(rate, usage), next(ids)])
    rows.sort(key=lambda row: row[0])
    return rows


def _charge(profiles: list[Profile], rows: list[list]) -> None:
    """Per account, under its lock: top up with a staff grant when it cannot pay, then one
    usage ledger entry per event; each row gets its balance after."""
    for p in profiles:
        mine = [row for row in rows if row[1] is p]
        if not mine:
            continue
        total = sum(row[6] for row in mine)
        account = ledger.lock_account(p.account.pk)
        if account.available < total:
            ledger.credits_grant(
                account_id=account.pk,
                amount=max(total * 30, TOP_UP),
                reason="Credits for generated usage (bench data)",
                actor=None,
            )
            account = ledger.lock_account(p.account.pk)
        entries = ledger.debit_many(
            account,
            kind=EntryKind.USAGE,
            debits=[(row[6], row[7], row[3].slug) for row in mine],
        )
        for row, entry in zip(mine, entries, strict=True):
            row.append(entry.balance_after)


def _values(row: list) -> tuple:
    moment, p, key, model, rate, usage, cost, request_id, balance_after = row
    return (
        request_id,
        hashlib.sha256(request_id.encode()).hexdigest(),
        UsageSource.RECORD.value,
        p.account.pk,
        key.pk,
        model.pk,
        rate.pk,
        usage.input_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
        usage.cached_input_tokens,
        usage.units,
        cost,
        balance_after,
        p.account.tier_info.priority,
        moment,
        moment,
    )


def _insert(rows: list[list]) -> None:
    if connection.vendor == "postgresql":
        table = UsageEvent._meta.db_table
        sql = f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(_values(row))
        return
    events = [UsageEvent(**dict(zip(COPY_COLUMNS, _values(row), strict=True))) for row in rows]
    UsageEvent.objects.bulk_create(events, batch_size=1000)


def _deltas(rows: list[list]) -> Deltas:
    deltas: Deltas = {}
    for moment, p, key, model, _rate, usage, cost, *_ in rows:
        deltas_add(
            deltas,
            (p.account.pk, key.pk, model.pk, moment.replace(minute=0, second=0, microsecond=0)),
            (
                1,
                usage.input_tokens,
                usage.output_tokens,
                usage.reasoning_tokens,
                usage.cached_input_tokens,
                units_micro(usage.units),
                cost,
            ),
        )
    return deltas


def usage_generate(
    *,
    events: int,
    accounts: int = 6,
    days: int = 90,
    seed: int = 7,
    email: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Generated:
    """Generate `events` usage events over the last `days` days for `accounts` new
    accounts (the first one `email`'s existing account, if given)."""
    started = time.perf_counter()
    rng = _rng(seed)
    run = uuid.uuid4().hex[:8]
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=days)
    _ensure_catalogue(start)
    with transaction.atomic():
        made = [_account(i, run, email) for i in range(accounts)]
        profiles = [_profile(rng, a, i == 0, start) for i, a in enumerate(made)]
    account_weights = list(accumulate(60 // (i + 1) for i in range(len(profiles))))
    ids = (f"gen-{run}-{n}" for n in range(events))
    result = Generated(accounts=made)
    for d, count in enumerate(_day_counts(events, start, days)):
        rows = _day_events(rng, profiles, account_weights, start + timedelta(days=d), count, ids)
        with transaction.atomic():
            _charge(profiles, rows)
            _insert(rows)
            usage_rollups_apply(deltas=_deltas(rows))
        result.events += len(rows)
        for row in rows:
            result.by_account[row[1].account.pk] = result.by_account.get(row[1].account.pk, 0) + 1
        if progress and (d % 10 == 9 or d == days - 1):
            rate = result.events / (time.perf_counter() - started)
            progress(f"day {d + 1}/{days}: {result.events:,} events ({rate:,.0f}/s)")
    result.seconds = time.perf_counter() - started
    return result
