from django.urls import path

from billing import simulator_views, views

urlpatterns = [
    path("settings/billing/", views.billing_settings, name="billing_settings"),
    path("settings/billing/buy/", views.buy_credits, name="buy_credits"),
    path("settings/billing/purchases/return/", views.purchase_return, name="purchase_return"),
    path("settings/billing/purchases/canceled/", views.purchase_canceled, name="purchase_canceled"),
    path(
        "settings/billing/purchases/<int:purchase_id>/refund/",
        views.refund_page,
        name="refund_purchase",
    ),
    path("settings/billing/subscribe/<str:tier>/", views.subscribe, name="subscribe"),
    path("settings/billing/subscribed/", views.subscription_return, name="subscription_return"),
    path("settings/billing/manage/", views.manage_subscription, name="manage_subscription"),
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path(
        "billing/simulator/checkout/<str:session_id>/",
        simulator_views.checkout,
        name="stripe_simulator_checkout",
    ),
    path(
        "billing/simulator/portal/<str:portal_id>/",
        simulator_views.portal,
        name="stripe_simulator_portal",
    ),
    path("billing/simulator/", simulator_views.dashboard, name="stripe_simulator_dashboard"),
    path(
        "billing/simulator/receipt/<str:session_id>/",
        simulator_views.receipt,
        name="stripe_simulator_receipt",
    ),
]
