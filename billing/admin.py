import uuid

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from analytics.models import UsageEvent
from billing.admin_columns import cash_column, credits_column
from billing.models import (
    CreditLot,
    CreditPack,
    LedgerEntry,
    Purchase,
    Refund,
    RefundLog,
    Reservation,
    StripeEvent,
    StripeEventStatus,
    Subscription,
    SubscriptionPlan,
)
from billing.selectors import refundable_credits
from billing.services import purchases, refunds
from yunxin.errors import DomainError


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept with the refund; shown to the customer.",
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money rows are written by services only; staff read them here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "account",
        "kind",
        "amount_credits",
        "balance_credits",
        "reference",
        "actor",
    ]
    list_filter = ["kind", "created_at"]
    search_fields = ["account__owner__email", "reference", "memo"]
    list_select_related = ["account__owner", "actor"]
    date_hierarchy = "created_at"

    amount_credits = credits_column("amount", "Amount")

    balance_credits = credits_column("balance_after", "Balance after")


@admin.register(CreditLot)
class CreditLotAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "account",
        "kind",
        "amount_credits",
        "remaining_credits",
        "created_at",
        "memo",
    ]
    list_filter = ["kind", "created_at"]
    search_fields = ["account__owner__email", "memo"]
    list_select_related = ["account__owner"]

    amount_credits = credits_column("amount", "Amount")

    remaining_credits = credits_column("remaining", "Remaining")


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = [
        "request_id",
        "account",
        "model",
        "reserved_credits",
        "status",
        "priority",
        "created_at",
        "expires_at",
    ]
    list_filter = ["status", "priority", "created_at"]
    search_fields = ["request_id", "account__owner__email", "model__slug"]
    list_select_related = ["account__owner", "model"]

    reserved_credits = credits_column("reserved", "Reserved")


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = [
        "request_id",
        "account",
        "model",
        "source",
        "input_tokens",
        "output_tokens",
        "units",
        "cost_credits",
        "occurred_at",
    ]
    list_filter = ["source", "priority", "occurred_at"]
    search_fields = ["request_id", "account__owner__email", "model__slug"]
    list_select_related = ["account__owner", "model"]
    date_hierarchy = "occurred_at"

    cost_credits = credits_column("cost", "Cost")


@admin.register(CreditPack)
class CreditPackAdmin(admin.ModelAdmin):
    list_display = ["name", "credits_display", "price_display", "currency", "active", "sort_order"]
    list_editable = ["active", "sort_order"]
    list_filter = ["active", "currency"]
    search_fields = ["name"]

    credits_display = credits_column("credits", "Credits")

    price_display = cash_column("price", "Price")


@admin.register(SubscriptionPlan)
class SubscriptionPlanAdmin(admin.ModelAdmin):
    list_display = ["tier", "stripe_price_id", "price_display", "active"]
    list_filter = ["active"]

    price_display = cash_column("amount", "Monthly price")


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "account",
        "credits_display",
        "price_display",
        "status",
        "disputed_at",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status", ("disputed_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["account__owner__email", "checkout_session_id", "payment_intent_id"]
    list_select_related = ["account__owner"]
    actions = ["start_refund", "dispute_won", "dispute_lost"]

    @admin.action(description="Refund unused credits (asks for a reason)")
    def start_refund(self, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            for purchase in queryset.select_related("account", "lot"):
                self._staff_refund(request, purchase, form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Refund unused credits",
            "form": form,
            "objects": queryset,
            "action": "start_refund",
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/billing/confirm_with_form.html", context)

    def _staff_refund(self, request, purchase: Purchase, reason: str) -> None:
        unused = refundable_credits(purchase, purchase.account, timezone.now())
        try:
            refund = refunds.refund_request(
                account=purchase.account,
                purchase_id=purchase.pk,
                credits=unused,
                idempotency_key=f"staff-{uuid.uuid4().hex}",
                reason=reason,
                actor=request.user,
                source="staff",
            )
        except DomainError as exc:
            self.message_user(request, f"Purchase #{purchase.pk}: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"Purchase #{purchase.pk}: refund #{refund.pk} started.")

    credits_display = credits_column("credits", "Credits")

    price_display = cash_column("amount", "Paid")

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser if obj is None else False

    def _close_disputes(self, request, queryset, won: bool) -> None:
        for purchase in queryset.filter(disputed_at__isnull=False):
            purchases.dispute_close(purchase_id=purchase.pk, won=won, actor=request.user)
            self.message_user(
                request, f"Purchase #{purchase.pk}: dispute closed ({'won' if won else 'lost'})."
            )

    @admin.action(description="Dispute won: give the frozen credits back")
    def dispute_won(self, request, queryset) -> None:
        self._close_disputes(request, queryset, won=True)

    @admin.action(description="Dispute lost: remove the frozen credits")
    def dispute_lost(self, request, queryset) -> None:
        self._close_disputes(request, queryset, won=False)


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = [
        "stripe_subscription_id",
        "account",
        "plan",
        "status",
        "current_period_end",
        "cancel_at_period_end",
        "updated_at",
    ]
    list_filter = ["status", "plan", "cancel_at_period_end"]
    search_fields = ["stripe_subscription_id", "stripe_customer_id", "account__owner__email"]
    list_select_related = ["account__owner", "plan"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["id", "type", "last_error"]
    readonly_fields = [
        "id",
        "type",
        "status",
        "attempts",
        "last_error",
        "received_at",
        "processed_at",
        "payload",
    ]
    actions = ["reprocess"]

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser if obj is None else False

    @admin.action(description="Reprocess selected events now")
    def reprocess(self, request, queryset) -> None:
        from billing.services.stripe_events import stripe_event_process

        for event in queryset:
            StripeEvent.objects.filter(pk=event.pk).update(status=StripeEventStatus.PENDING)
            try:
                outcome = stripe_event_process(event_id=event.pk)
            except Exception as exc:
                self.message_user(request, f"{event.pk}: failed again: {exc!r}", messages.ERROR)
            else:
                self.message_user(request, f"{event.pk}: {outcome}")


class RefundLogInline(admin.TabularInline):
    model = RefundLog
    extra = 0
    can_delete = False
    fields = ["created_at", "status", "note", "actor"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "account",
        "purchase",
        "credits_display",
        "amount_display",
        "status",
        "source",
        "stripe_refund_id",
        "created_at",
    ]
    list_filter = ["status", "source", "created_at"]
    search_fields = ["account__owner__email", "stripe_refund_id", "purchase__payment_intent_id"]
    list_select_related = ["account__owner", "purchase"]
    inlines = [RefundLogInline]
    actions = ["approve", "reject", "retry"]

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser if obj is None else False

    credits_display = credits_column("credits", "Credits")

    amount_display = cash_column("amount", "Money back")

    def _each(self, request, queryset, fn, **kwargs) -> None:
        for refund in queryset:
            try:
                fn(refund_id=refund.pk, actor=request.user, **kwargs)
            except DomainError as exc:
                self.message_user(request, f"Refund #{refund.pk}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"Refund #{refund.pk}: done.")

    @admin.action(description="Approve (sends the refund to Stripe)")
    def approve(self, request, queryset) -> None:
        self._each(request, queryset, refunds.refund_approve)

    @admin.action(description="Retry failed or stuck refunds")
    def retry(self, request, queryset) -> None:
        self._each(request, queryset, refunds.refund_retry)

    @admin.action(description="Reject (asks for a reason the customer sees)")
    def reject(self, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._each(request, queryset, refunds.refund_reject, reason=form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject refunds",
            "form": form,
            "objects": queryset,
            "action": "reject",
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/billing/confirm_with_form.html", context)
