from django.urls import path

from billing import views

urlpatterns = [
    path("settings/billing/", views.billing_settings, name="billing_settings"),
]
