"""`record` for many events in one call (batch jobs, imports).

Each item is answered as `usage_record` would answer it alone, in order, but the work is
shared: one query for replays, each key authenticated once, models and rates fetched
together, and per account one locked transaction that checks every item in order against
the available balance and key limits, then draws lots once, bulk-inserts one ledger entry
and one usage event per item. If a concurrent call inserted one of the same request ids
meanwhile, that account's items fall back to `usage_record` one by one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_authenticate
from accounts.webhooks.triggers import webhooks_after_charge
from analytics.models import UsageEvent, UsageSource
from analytics.services import usage_rollups_add
from billing.errors import IdempotencyConflict
from billing.models import EntryKind, Reservation
from billing.services import ledger, metering
from models_catalog.models import AIModel, Rate
from models_catalog.pricing import Usage, cost_micro
from models_catalog.services import model_access_check
from yunxin.errors import DomainError, NotFound

Result = metering.Charged | DomainError


@dataclass
class Item:
    request_id: str
    api_key: str
    model: str
    usage: Usage
    occurred_at: datetime | None = None

    def fingerprint(self) -> str:
        return metering.record_fingerprint(
            self.request_id, self.api_key, self.model, self.usage, self.occurred_at
        )


@dataclass
class _Charge:
    index: int
    item: Item
    fp: str
    key: ApiKey
    model: AIModel
    rate: Rate
    cost: int
    occurred_at: datetime


def usage_record_batch(*, items: list[Item]) -> list[Result]:
    results: list[Result | None] = [None] * len(items)
    fps = [item.fingerprint() for item in items]
    first_of: dict[str, int] = {}
    todo = _replays(items, fps, results, first_of)
    charges = _price(items, fps, todo, results)
    by_account: dict[int, list[_Charge]] = defaultdict(list)
    for charge in charges:
        by_account[charge.key.account_id].append(charge)
    for account_id, group in by_account.items():
        try:
            _charge_account(account_id, group, results)
        except IntegrityError:  # a concurrent call took one of these ids: go one by one
            for c in group:
                results[c.index] = _one(c.item)
    for i, item in enumerate(items):  # repeats of an id within this batch
        if results[i] is None:
            first = results[first_of[item.request_id]]
            same = fps[i] == fps[first_of[item.request_id]]
            results[i] = (
                metering.Charged(first.event, replayed=True)
                if same and isinstance(first, metering.Charged)
                else first
                if same
                else IdempotencyConflict()
            )
    return results  # type: ignore[return-value]


def _one(item: Item) -> Result:
    try:
        return metering.usage_record(
            request_id=item.request_id,
            api_key=item.api_key,
            model=item.model,
            usage=item.usage,
            occurred_at=item.occurred_at,
        )
    except DomainError as exc:
        return exc


def _replays(items, fps, results, first_of) -> list[int]:
    ids = [item.request_id for item in items]
    existing = {e.request_id: e for e in UsageEvent.objects.filter(request_id__in=ids)}
    authorized = set(
        Reservation.objects.filter(request_id__in=ids).values_list("request_id", flat=True)
    )
    now = timezone.now()
    todo = []
    for i, item in enumerate(items):
        rid = item.request_id
        if rid in existing:
            same = existing[rid].fingerprint == fps[i]
            results[i] = (
                metering.Charged(existing[rid], replayed=True) if same else IdempotencyConflict()
            )
        elif rid in authorized:
            results[i] = IdempotencyConflict("This request id belongs to an authorized request.")
        elif rid in first_of:
            continue  # answered like its first occurrence, at the end
        else:
            first_of[rid] = i
            try:
                metering.check_occurred_at(item.occurred_at, now)
                todo.append(i)
            except DomainError as exc:
                results[i] = exc
    return todo


def _price(items, fps, todo, results) -> list[_Charge]:
    keys: dict[str, ApiKey | DomainError] = {}
    slugs = {items[i].model for i in todo}
    models = {
        m.slug: m
        for m in AIModel.objects.select_related("provider").filter(
            slug__in=slugs, active=True, provider__active=True
        )
    }
    rates: dict[int, list[Rate]] = defaultdict(list)
    for rate in Rate.objects.filter(model__in=models.values()).order_by("-effective_from"):
        rates[rate.model_id].append(rate)
    now = timezone.now()
    charges = []
    for i in todo:
        item = items[i]
        try:
            if item.api_key not in keys:
                keys[item.api_key] = _authenticate(item.api_key)
            key = keys[item.api_key]
            if isinstance(key, DomainError):
                raise key
            model = models.get(item.model)
            if model is None:
                raise NotFound(f"No model named {item.model!r}.")
            model_access_check(account=key.account, model=model)
            at = item.occurred_at or now
            rate = next((r for r in rates[model.pk] if r.effective_from <= at), None)
            if rate is None:
                raise NotFound(f"{model.slug} has no price in force.")
            metering.check_usage_fits_model(model, item.usage)
            charges.append(
                _Charge(i, item, fps[i], key, model, rate, cost_micro(rate, item.usage), at)
            )
        except DomainError as exc:
            results[i] = exc
    return charges


def _authenticate(raw: str) -> ApiKey | DomainError:
    try:
        return api_key_authenticate(raw_key=raw)
    except DomainError as exc:
        return exc


@transaction.atomic
def _charge_account(account_id: int, group: list[_Charge], results) -> None:
    account = ledger.lock_account(account_id)
    now = timezone.now()
    available = account.available
    room = {c.key.pk: metering.key_limit_room(c.key, now, exact=True) for c in group}
    accepted: list[_Charge] = []
    for c in group:
        try:
            metering.check_key_limit(c.key, c.cost, room[c.key.pk])
            metering.check_available(available, c.cost)
        except DomainError as exc:
            results[c.index] = exc
            continue
        available -= c.cost
        if room[c.key.pk] is not None:
            room[c.key.pk] -= c.cost
        accepted.append(c)
    if not accepted:
        return
    entries = ledger.debit_many(
        account,
        kind=EntryKind.USAGE,
        debits=[(c.cost, c.item.request_id, c.model.slug) for c in accepted],
    )
    for c in accepted:
        metering.count_key_spend(c.key, c.cost, now)
    webhooks_after_charge(account=account, amount=sum(c.cost for c in accepted))
    events = UsageEvent.objects.bulk_create(
        [
            metering.build_usage_event(
                c.item.request_id,
                c.fp,
                UsageSource.RECORD,
                account,
                c.key,
                c.model,
                c.rate,
                c.item.usage,
                c.cost,
                entry.balance_after,
                account.tier_info.priority,
                c.occurred_at,
            )
            for c, entry in zip(accepted, entries, strict=True)
        ]
    )
    usage_rollups_add(events=events)
    for c, event in zip(accepted, events, strict=True):
        results[c.index] = metering.Charged(event)
