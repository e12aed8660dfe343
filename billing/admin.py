from django.contrib import admin

from analytics.models import UsageEvent
from billing.models import CreditLot, LedgerEntry, Reservation
from billing.templatetags.money import credits


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

    @admin.display(description="Amount")
    def amount_credits(self, obj: LedgerEntry) -> str:
        return credits(obj.amount)

    @admin.display(description="Balance after")
    def balance_credits(self, obj: LedgerEntry) -> str:
        return credits(obj.balance_after)


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

    @admin.display(description="Amount")
    def amount_credits(self, obj: CreditLot) -> str:
        return credits(obj.amount)

    @admin.display(description="Remaining")
    def remaining_credits(self, obj: CreditLot) -> str:
        return credits(obj.remaining)


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

    @admin.display(description="Reserved")
    def reserved_credits(self, obj: Reservation) -> str:
        return credits(obj.reserved)


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

    @admin.display(description="Cost")
    def cost_credits(self, obj: UsageEvent) -> str:
        return credits(obj.cost)
