"""Pages under /settings/webhooks/ (included by accounts/urls.py)."""

from django.urls import path

from accounts.webhooks import views

urlpatterns = [
    path("", views.webhooks_page, name="webhooks"),
    path("settings/", views.webhooks_settings, name="webhooks_settings"),
    path("<int:endpoint_id>/", views.webhook_endpoint, name="webhook_endpoint"),
    path(
        "<int:endpoint_id>/secret/", views.webhook_endpoint_secret, name="webhook_endpoint_secret"
    ),
    path(
        "<int:endpoint_id>/rotate/", views.webhook_endpoint_rotate, name="webhook_endpoint_rotate"
    ),
    path("<int:endpoint_id>/test/", views.webhook_endpoint_test, name="webhook_endpoint_test"),
    path(
        "<int:endpoint_id>/enabled/",
        views.webhook_endpoint_enabled,
        name="webhook_endpoint_enabled",
    ),
    path(
        "<int:endpoint_id>/delete/", views.webhook_endpoint_delete, name="webhook_endpoint_delete"
    ),
    path(
        "<int:endpoint_id>/deliveries/",
        views.webhook_endpoint_deliveries,
        name="webhook_endpoint_deliveries",
    ),
    path(
        "deliveries/<int:delivery_id>/redeliver/",
        views.webhook_delivery_redeliver,
        name="webhook_delivery_redeliver",
    ),
]
