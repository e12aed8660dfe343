"""What is on sale: demo packs and plans for the offline simulator (`make run`)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from billing.models import CreditPack, SubscriptionPlan
from billing.money import MICRO

DEMO_PACKS = [("Starter pack", 10, 1_000), ("Builder pack", 50, 4_500), ("Scale pack", 250, 20_000)]
DEMO_PLANS = [("basic", "price_sim_basic_monthly", 1_900), ("pro", "price_sim_pro_monthly", 4_900)]


@transaction.atomic
def demo_products_ensure() -> None:
    """Idempotent. Packs only when staff have none; plans only for the simulator, since
    real Stripe prices are created in Stripe and entered by staff."""
    if not CreditPack.objects.exists():
        for order, (name, credits, price) in enumerate(DEMO_PACKS):
            CreditPack.objects.create(
                name=name,
                credits=credits * MICRO,
                price=price,
                currency=settings.BILLING_CURRENCY,
                sort_order=order,
            )
    if settings.STRIPE_SIMULATOR:
        for tier, price_id, amount in DEMO_PLANS:
            SubscriptionPlan.objects.get_or_create(
                tier=tier,
                defaults={
                    "stripe_price_id": price_id,
                    "amount": amount,
                    "currency": settings.BILLING_CURRENCY,
                },
            )
