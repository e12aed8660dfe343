import sys

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found, server_error
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from accounts import api as accounts_api
from accounts.webhooks import api as webhooks_api
from analytics import api as analytics_api
from billing import api as billing_api
from models_catalog import api as catalog_api
from yunxin import health, metrics
from yunxin.errors import is_api_path, is_outage, json_error, outage_response

admin.site.site_header = "Yunxin staff"
admin.site.site_title = "Yunxin staff"

api_patterns = [
    path("auth/me", accounts_api.MeView.as_view(), name="api_me"),
    path("keys", accounts_api.ApiKeyListView.as_view(), name="api_keys_list"),
    path("keys/<int:key_id>", accounts_api.ApiKeyDetailView.as_view(), name="api_key_detail"),
    path("credits", billing_api.CreditsView.as_view(), name="api_credits"),
    path("credits/ledger", billing_api.LedgerView.as_view(), name="api_ledger"),
    path("metering/authorize", billing_api.AuthorizeView.as_view(), name="metering_authorize"),
    path("metering/settle", billing_api.SettleView.as_view(), name="metering_settle"),
    path("metering/record", billing_api.RecordView.as_view(), name="metering_record"),
    path(
        "usage/events/<str:request_id>",
        analytics_api.UsageEventView.as_view(),
        name="api_usage_event",
    ),
    path("usage", analytics_api.UsageView.as_view(), name="api_usage"),
    path("usage/export.csv", analytics_api.UsageExportView.as_view(), name="api_usage_export"),
    path("models", catalog_api.ModelListView.as_view(), name="api_models"),
    path("models/<path:slug>", catalog_api.ModelDetailView.as_view(), name="api_model_detail"),
    path(
        "webhooks/endpoints",
        webhooks_api.EndpointListView.as_view(),
        name="api_webhook_endpoints",
    ),
    path(
        "webhooks/endpoints/<int:endpoint_id>",
        webhooks_api.EndpointDetailView.as_view(),
        name="api_webhook_endpoint",
    ),
    path(
        "webhooks/endpoints/<int:endpoint_id>/secret",
        webhooks_api.EndpointSecretView.as_view(),
        name="api_webhook_endpoint_secret",
    ),
    path(
        "webhooks/endpoints/<int:endpoint_id>/rotate-secret",
        webhooks_api.EndpointRotateSecretView.as_view(),
        name="api_webhook_endpoint_rotate",
    ),
    path(
        "webhooks/endpoints/<int:endpoint_id>/test",
        webhooks_api.EndpointTestView.as_view(),
        name="api_webhook_endpoint_test",
    ),
    path(
        "webhooks/deliveries",
        webhooks_api.DeliveryListView.as_view(),
        name="api_webhook_deliveries",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/redeliver",
        webhooks_api.DeliveryRedeliverView.as_view(),
        name="api_webhook_delivery_redeliver",
    ),
    path("webhooks/settings", webhooks_api.SettingsView.as_view(), name="api_webhook_settings"),
    path("schema", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs", SpectacularRedocView.as_view(url_name="api_schema"), name="api_docs"),
]

urlpatterns = [
    # Operations: probes and Prometheus, outside /api/ (README.md, "Production").
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include(api_patterns)),
    path("v1/", include("models_catalog.urls_v1")),
    path("", include("accounts.urls")),
    path("", include("models_catalog.urls")),
    path("", include("analytics.urls")),
    path("", include("billing.urls")),
]


def handler404(request: HttpRequest, exception: Exception) -> JsonResponse:
    if is_api_path(request):
        return json_error("not_found", "Not found.", 404)
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> JsonResponse:
    # An outage raised outside a view (in a middleware) still answers a retriable 503.
    exc = sys.exc_info()[1]
    if is_outage(exc):
        return outage_response(request, exc)
    if is_api_path(request):
        return json_error("internal_error", "Something went wrong on our side.", 500)
    return server_error(request)
