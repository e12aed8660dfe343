from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found, server_error
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from accounts import api as accounts_api
from analytics import api as analytics_api
from billing import api as billing_api
from models_catalog import api as catalog_api
from yunxin.errors import is_api_path, json_error

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
    path("models", catalog_api.ModelListView.as_view(), name="api_models"),
    path("models/<path:slug>", catalog_api.ModelDetailView.as_view(), name="api_model_detail"),
    path("schema", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs", SpectacularRedocView.as_view(url_name="api_schema"), name="api_docs"),
]

urlpatterns = [
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
    if is_api_path(request):
        return json_error("internal_error", "Something went wrong on our side.", 500)
    return server_error(request)
