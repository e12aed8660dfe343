"""Usage for the analytics tests, made the way production makes it: through metering."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, ApiKey
from analytics.models import UsageEvent
from billing.money import parse_credits
from billing.services import metering
from billing.services.ledger import credits_grant
from models_catalog.models import AIModel
from models_catalog.pricing import Usage
from tests.factories import make_account, make_key, make_priced_model


@dataclass
class Customer:
    account: Account
    key: ApiKey
    secret: str

    def charge(
        self, model: str = "acme/chat", *, at: datetime | None = None, secret: str = "", **usage
    ) -> UsageEvent:
        if "units" in usage:
            usage["units"] = Decimal(usage["units"])
        return metering.usage_record(
            request_id=f"req-{uuid.uuid4().hex[:12]}",
            api_key=secret or self.secret,
            model=model,
            usage=Usage(**usage),
            occurred_at=at,
        ).event


def make_customer(email: str | None = None, credits: str = "1000") -> Customer:
    account = make_account("enterprise", email=email)
    credits_grant(account_id=account.pk, amount=parse_credits(credits), reason="tests", actor=None)
    key, secret = make_key(account, name="production")
    account.refresh_from_db()
    return Customer(account, key, secret)


def _model(slug: str, **fields) -> AIModel:
    since = timezone.now() - timedelta(days=60)  # older than any recordable usage
    return make_priced_model(slug=slug, provider__slug=slug.split("/")[0], since=since, **fields)


@pytest.fixture
def chat(db) -> AIModel:
    # 2 credits per 1M input tokens, 8 output, 10 reasoning, 0.5 cached input.
    prices = {
        "input_per_mtok": "2",
        "output_per_mtok": "8",
        "reasoning_per_mtok": "10",
        "cached_input_per_mtok": "0.5",
    }
    return _model("acme/chat", prices=prices)


@pytest.fixture
def mini(db) -> AIModel:
    return _model("acme/mini", prices={"input_per_mtok": "1", "output_per_mtok": "1"})


@pytest.fixture
def image(db) -> AIModel:
    return _model("acme/image", modality="image", prices={"unit_price": "0.04", "unit": "image"})


@pytest.fixture
def customer(db, chat, mini, image) -> Customer:
    return make_customer()


@pytest.fixture
def other(db, chat, mini, image) -> Customer:
    return make_customer()


@pytest.fixture
def logged_in(client, customer):
    client.force_login(customer.account.owner)
    return client


def hours_ago(n: int) -> datetime:
    """A moment n hours before the current hour's start (plus 10 minutes)."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=n) + timedelta(minutes=10)
