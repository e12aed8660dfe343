"""The catalogue of webhook event types and the documented `data` schema of each.

Every payload is `{"id": "evt_…", "type": "…", "created": "<ISO 8601 UTC>", "data": {…}}`.
`webhook_emit` refuses data whose keys differ from the schema here, so what customers
receive is exactly what the Webhooks page and README.md document. Credits are decimal
strings ("12.500000"), cash amounts integer minor units with an ISO currency.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    summary: str
    fields: dict[str, str]  # key of `data` -> what it holds

    @property
    def subscribable(self) -> bool:
        return self.name != TEST_EVENT


TEST_EVENT = "webhook.test"

_ACCOUNT = "int: the account's id"
_BALANCE = 'str: credit balance after the change, e.g. "12.500000"'

EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType(
            "credits.purchased",
            "A credit purchase was paid and its credits added.",
            {
                "account_id": _ACCOUNT,
                "purchase_id": "int: the purchase's id",
                "credits": 'str: credits added, e.g. "100.000000"',
                "amount": "int: cash paid, in minor units (cents)",
                "currency": 'str: ISO 4217 currency, lower case, e.g. "usd"',
                "balance": _BALANCE,
            },
        ),
        EventType(
            "credits.low_balance",
            "A charge took the available balance below the threshold you set.",
            {
                "account_id": _ACCOUNT,
                "threshold": "str: your low-balance threshold in credits",
                "available": "str: credits available after the charge (balance minus holds)",
                "balance": _BALANCE,
            },
        ),
        EventType(
            "credits.depleted",
            "A charge took the balance to zero: requests now get 402 until you top up.",
            {"account_id": _ACCOUNT, "available": "str: credits available", "balance": _BALANCE},
        ),
        EventType(
            "refund.succeeded",
            "A refund of unused purchased credits was paid out.",
            {
                "account_id": _ACCOUNT,
                "refund_id": "int: the refund's id",
                "purchase_id": "int: the refunded purchase's id",
                "credits": "str: credits taken out of the balance",
                "amount": "int: cash refunded, in minor units",
                "currency": "str: ISO 4217 currency, lower case",
                "balance": _BALANCE,
            },
        ),
        EventType(
            "refund.failed",
            "A refund could not be paid out; its credits are spendable again.",
            {
                "account_id": _ACCOUNT,
                "refund_id": "int: the refund's id",
                "purchase_id": "int: the purchase's id",
                "credits": "str: credits that were to be refunded (given back to the balance)",
                "amount": "int: cash that was to be refunded, in minor units",
                "currency": "str: ISO 4217 currency, lower case",
                "failure_reason": "str: why the refund failed, for people",
                "balance": _BALANCE,
            },
        ),
        EventType(
            "subscription.updated",
            "The account's tier changed (upgrade, downgrade, or a staff change).",
            {
                "account_id": _ACCOUNT,
                "previous_tier": "str: free, basic, pro or enterprise",
                "tier": "str: the new tier",
                "priority": "int: request priority of the new tier (1-4)",
                "rate_limit_per_minute": "int or null: model requests per minute (null: none)",
                "webhooks_enabled": "bool: false when the new tier pauses your endpoints",
                "source": 'str: what changed it, e.g. "stripe" or "staff"',
            },
        ),
        EventType(
            "api_key.limit_reached",
            "An authorize was refused because the key's credit limit for its period is "
            "used up (402 key_limit_exceeded). Sent once per key and limit period.",
            {
                "account_id": _ACCOUNT,
                "api_key_id": "int: the key's id",
                "api_key_name": "str: the key's name",
                "api_key_prefix": 'str: the key\'s visible prefix, e.g. "yx_1a2b3c4d5e6f"',
                "credit_limit": "str: the key's limit in credits",
                "limit_period": 'str: "daily", "weekly", "monthly" or "" (never resets)',
                "period_spent": "str: credits the key has spent in the period",
            },
        ),
        EventType(
            TEST_EVENT,
            "Sent by the “Send test event” button; only to that endpoint.",
            {"endpoint_id": "int: the endpoint's id", "message": "str: a greeting"},
        ),
    )
}

SUBSCRIBABLE = [e.name for e in EVENT_TYPES.values() if e.subscribable]


def check_data(event_type: str, data: dict) -> None:
    """A programming error (not a customer one) when data does not match the schema."""
    spec = EVENT_TYPES.get(event_type)
    if spec is None:
        raise ValueError(f"Unknown webhook event type {event_type!r}")
    if set(data) != set(spec.fields):
        missing, extra = set(spec.fields) - set(data), set(data) - set(spec.fields)
        raise ValueError(
            f"{event_type} data: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
