"""Tier subscriptions (Basic, Pro) through Stripe Checkout and the customer portal.

Stripe is the source of truth: every subscription event makes us read the subscription
from Stripe and apply its current state, so duplicates, late and out-of-order events all
converge. The tier follows the subscription: active or trialing gives the plan's tier at
once; past_due keeps it through Stripe's retries; canceled, unpaid or expired return the
account to Free. A cancellation at period end keeps the tier until Stripe ends it.
Enterprise is set by staff and never changed here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import stripe
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_set_tier
from accounts.tiers import TIERS, TierName
from billing import stripe_gateway as gateway
from billing.models import StripeCustomer, Subscription, SubscriptionPlan
from billing.selectors import KEEPS_TIER, current_subscription
from billing.services.purchases import PaymentProviderError, stripe_customer_ensure
from yunxin.errors import ValidationFailed


def subscription_checkout_start(
    *, account: Account, tier: str, success_url: str, cancel_url: str
) -> str:
    if account.tier == TierName.ENTERPRISE:
        raise ValidationFailed("Enterprise accounts are managed by our team: contact us to change.")
    plan = SubscriptionPlan.objects.filter(tier=tier, active=True).first()
    if plan is None:
        raise ValidationFailed(f"The {tier} plan is not available for purchase.")
    if current_subscription(account=account):
        raise ValidationFailed("You already have a subscription: change it in the customer portal.")
    customer_id = stripe_customer_ensure(account=account)
    try:
        session = gateway.create_subscription_checkout(
            account_id=account.pk,
            customer_id=customer_id,
            price_id=plan.stripe_price_id,
            tier=tier,
            success_url=success_url,
            cancel_url=cancel_url,
            attempt=uuid.uuid4().hex,
        )
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc
    return session.url


def portal_url(*, account: Account, return_url: str) -> str:
    customer = StripeCustomer.objects.filter(account=account).first()
    if customer is None:
        raise ValidationFailed("There is no subscription to manage yet.")
    try:
        return gateway.create_portal_session(
            customer_id=customer.stripe_customer_id, return_url=return_url
        )
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc


def _timestamp(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _period_end(sub) -> datetime | None:
    items = (sub.get("items") or {}).get("data") or []
    return _timestamp(
        sub.get("current_period_end") or (items[0].get("current_period_end") if items else None)
    )


def _price_id(sub) -> str | None:
    items = (sub.get("items") or {}).get("data") or []
    return items[0]["price"]["id"] if items else None


def subscription_sync(*, subscription_id: str) -> Subscription | None:
    """Read the subscription from Stripe and make our copy and the account's tier agree."""
    try:
        sub = gateway.retrieve_subscription(subscription_id)
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc
    return _apply(sub.to_dict() if hasattr(sub, "to_dict") else dict(sub))


def subscription_sync_from_checkout(*, account: Account, session_id: str) -> Subscription | None:
    """The return page's shortcut to the state the webhook will also apply."""
    if not session_id:
        return None
    try:
        session = gateway.retrieve_checkout(session_id)
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc
    if session.client_reference_id != str(account.pk) or not session.subscription:
        return None
    subscription_id = session.subscription
    if not isinstance(subscription_id, str):
        subscription_id = subscription_id.id
    return subscription_sync(subscription_id=subscription_id)


def _account_for(sub: dict) -> Account | None:
    account_id = (sub.get("metadata") or {}).get("account_id")
    if account_id:
        return Account.objects.filter(pk=account_id).first()
    customer = StripeCustomer.objects.filter(stripe_customer_id=sub.get("customer")).first()
    return customer.account if customer else None


@transaction.atomic
def _apply(sub: dict) -> Subscription | None:
    account = _account_for(sub)
    if account is None:
        return None
    account = Account.objects.select_for_update().get(pk=account.pk)
    plan = SubscriptionPlan.objects.filter(stripe_price_id=_price_id(sub)).first()
    record, _ = Subscription.objects.update_or_create(
        stripe_subscription_id=sub["id"],
        defaults={
            "account": account,
            "stripe_customer_id": sub.get("customer") or "",
            "plan": plan,
            "status": sub["status"],
            "current_period_end": _period_end(sub),
            "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
            "updated_at": timezone.now(),
        },
    )
    if account.tier != TierName.ENTERPRISE:
        tier = _tier_from_subscriptions(account)
        account_set_tier(
            account_id=account.pk,
            tier=tier,
            actor=None,
            source="stripe",
            reason=f"Subscription {sub['id']} is {sub['status']}",
        )
    return record


def _tier_from_subscriptions(account: Account) -> str:
    """The best tier among the account's subscriptions in good standing, else Free."""
    tiers = [
        s.plan.tier
        for s in Subscription.objects.select_related("plan").filter(account=account)
        if s.status in KEEPS_TIER and s.plan is not None
    ]
    return max(tiers, key=lambda t: TIERS[t].priority, default=TierName.FREE)
