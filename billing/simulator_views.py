"""The offline simulator's hosted pages: checkout, customer portal, receipt.

Development only: every view answers 404 when real Stripe keys are configured.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from billing import stripe_simulator as sim
from billing.models import SimulatorObject, SubscriptionPlan


def simulator_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.STRIPE_SIMULATOR:
            raise Http404("The Stripe simulator is off: real Stripe keys are configured.")
        return view(request, *args, **kwargs)

    return wrapper


@simulator_only
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    session = sim.get(session_id)
    if session is None or session.get("object") != "checkout.session":
        raise Http404("No such checkout session")
    if request.method == "POST" and session["status"] == "open":
        action = request.POST.get("action", "")
        if action == "cancel":
            sim.checkout_cancel(session_id)
            return redirect(session["cancel_url"])
        if action in ("card", "async_success", "async_fail"):
            sim.checkout_pay(session_id, action)
            return redirect(session["success_url"])
    return render(request, "billing/simulator/checkout.html", {"session": session})


@simulator_only
@require_http_methods(["GET", "POST"])
def portal(request: HttpRequest, portal_id: str) -> HttpResponse:
    portal_session = sim.get(portal_id)
    if portal_session is None or portal_session.get("object") != "billing_portal.session":
        raise Http404("No such portal session")
    customer = portal_session["customer"]
    if request.method == "POST":
        sim.portal_action(customer, request.POST.get("action", ""), request.POST.get("price", ""))
        return redirect(request.path)
    subscription = sim.customer_subscription(customer)
    current_price = subscription["items"]["data"][0]["price"]["id"] if subscription else None
    context = {
        "portal": portal_session,
        "subscription": subscription,
        "plans": SubscriptionPlan.objects.filter(active=True),
        "current_price": current_price,
    }
    return render(request, "billing/simulator/portal.html", context)


@simulator_only
def receipt(request: HttpRequest, session_id: str) -> HttpResponse:
    session = sim.get(session_id)
    if session is None or session.get("payment_status") != "paid":
        raise Http404("No receipt")
    return render(request, "billing/simulator/receipt.html", {"session": session})


@simulator_only
@require_http_methods(["GET", "POST"])
def dashboard(request: HttpRequest) -> HttpResponse:
    """A sliver of Stripe's dashboard: how refunds turn out, pending refunds to settle, and
    refunds made "in Stripe" rather than through the portal."""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "outcome":
            sim.set_sim_setting("refund_outcome", request.POST.get("outcome", "succeeded"))
        elif action in ("succeeded", "failed"):
            sim.resolve_refund(request.POST.get("refund", ""), action)
        elif action == "dashboard_refund":
            amount = request.POST.get("amount", "")
            if amount.isdigit():
                sim.dashboard_refund(request.POST.get("payment_intent", ""), int(amount))
        return redirect(request.path)
    objects = SimulatorObject.objects.order_by("-created_at")
    context = {
        "outcome": sim.get_sim_setting("refund_outcome", "succeeded"),
        "pending": [o.data for o in objects.filter(kind="refund") if o.data["status"] == "pending"],
        "intents": [o.data for o in objects.filter(kind="payment_intent")[:20]],
    }
    return render(request, "billing/simulator/dashboard.html", context)
