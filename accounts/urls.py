from django.urls import include, path

from accounts import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("keys/", views.api_keys, name="api_keys"),
    path("keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("keys/<int:key_id>/limits/", views.api_key_limits, name="api_key_limits"),
    path("settings/webhooks/", include("accounts.webhooks.urls")),
]
