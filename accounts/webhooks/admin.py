"""Staff views of webhooks: read-only rows, changes only through the services."""

from django.contrib import admin, messages
from django.db import models

from accounts.webhooks import services
from accounts.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from yunxin.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "account", "status", "failing_since", "last_success_at", "created_at"]
    list_filter = ["disabled_reason", ("paused_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["url", "description", "account__owner__email"]
    list_select_related = ["account__owner"]
    # The signing secret is the customer's: never shown here.
    exclude = ["secret", "previous_secret"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["disable_endpoints", "enable_endpoints"]

    @admin.action(description="Disable selected endpoints")
    def disable_endpoints(self, request, queryset) -> None:
        self._set_enabled(request, queryset, False)

    @admin.action(description="Enable selected endpoints")
    def enable_endpoints(self, request, queryset) -> None:
        self._set_enabled(request, queryset, True)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        for endpoint in queryset.select_related("account"):
            try:
                services.webhook_endpoint_update(
                    account=endpoint.account, endpoint_id=endpoint.pk, enabled=enabled
                )
            except DomainError as exc:
                self.message_user(request, f"{endpoint}: {exc.message}", messages.ERROR)
        self.message_user(request, "Done.")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "succeeded", "status_code", "latency_ms", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "endpoint", "status", "attempt_count", "next_attempt_at", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["event__id", "endpoint__url", "endpoint__account__owner__email"]
    list_select_related = ["event", "endpoint"]
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    @admin.action(description="Redeliver selected deliveries")
    def redeliver(self, request, queryset) -> None:
        for item in queryset.select_related("endpoint__account"):
            try:
                services.webhook_delivery_redeliver(
                    account=item.endpoint.account, delivery_id=item.pk
                )
            except DomainError as exc:
                self.message_user(request, f"{item}: {exc.message}", messages.ERROR)
        self.message_user(request, "Queued.")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "account", "created_at"]
    list_filter = ["type", "created_at"]
    search_fields = ["id", "account__owner__email"]
    list_select_related = ["account__owner"]
