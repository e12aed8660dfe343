from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.template.response import TemplateResponse

from accounts import services
from accounts.models import Account, ApiKey, TierChange, User
from billing.admin_columns import credits_column
from billing.money import parse_credits
from billing.services import ledger
from yunxin.errors import DomainError


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_staff", "date_joined"]
    list_filter = ["is_active", "is_staff", "is_superuser", "account__tier"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class TierChangeInline(admin.TabularInline):
    model = TierChange
    extra = 0
    can_delete = False
    fields = ["created_at", "from_tier", "to_tier", "source", "actor", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AccountAdminForm(forms.ModelForm):
    tier_change_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when you change the tier; kept in the tier audit trail.",
    )

    class Meta:
        model = Account
        fields = ["name", "tier"]

    def clean(self):
        cleaned = super().clean()
        if "tier" in self.changed_data and not cleaned.get("tier_change_reason", "").strip():
            self.add_error("tier_change_reason", "Say why the tier changes.")
        return cleaned


class CreditAdjustmentForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("grant", "Grant credits"), ("deduct", "Deduct credits")]
    )
    amount = forms.CharField(help_text="Credits, e.g. 25 or 0.5 (at most 6 decimals).")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept in the ledger."
    )

    def clean_amount(self) -> int:
        try:
            micro = parse_credits(self.cleaned_data["amount"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if micro <= 0:
            raise forms.ValidationError("Give a positive amount.")
        return micro


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountAdminForm
    actions = ["adjust_credits"]
    list_display = ["__str__", "owner", "tier", "balance_display", "held_display", "created_at"]
    list_filter = ["tier", "created_at"]
    search_fields = ["owner__email", "name"]
    list_select_related = ["owner"]
    readonly_fields = [
        "owner",
        "balance_display",
        "held_display",
        "available_display",
        "created_at",
    ]
    fields = [
        "owner",
        "name",
        "tier",
        "tier_change_reason",
        "balance_display",
        "held_display",
        "available_display",
        "created_at",
    ]
    inlines = [ApiKeyInline, TierChangeInline]

    balance_display = credits_column("balance", "Balance (credits)")

    held_display = credits_column("held", "Held (credits)")

    available_display = credits_column("available", "Available (credits)")

    @admin.action(description="Grant or deduct credits (asks for a reason)")
    def adjust_credits(self, request, queryset):
        form = CreditAdjustmentForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            service = (
                ledger.credits_grant
                if form.cleaned_data["direction"] == "grant"
                else ledger.credits_deduct
            )
            for account in queryset:
                try:
                    service(
                        account_id=account.pk,
                        amount=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    self.message_user(request, f"{account}: {exc.message}", messages.ERROR)
                else:
                    self.message_user(request, f"{account}: done, recorded in the ledger.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Grant or deduct credits",
            "form": form,
            "accounts": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/adjust_credits.html", context)

    def has_add_permission(self, request) -> bool:
        return False  # accounts come with their user

    def save_model(self, request, obj: Account, form, change: bool) -> None:
        # Only the name is saved here; the tier goes through the service so that every
        # change is audited with its actor and reason.
        obj.save(update_fields=["name"])
        if "tier" in form.changed_data:
            services.account_set_tier(
                account_id=obj.pk,
                tier=form.cleaned_data["tier"],
                actor=request.user,
                source="staff",
                reason=form.cleaned_data["tier_change_reason"].strip(),
            )
            messages.info(request, "Tier changed; recorded in the audit trail.")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "display_prefix", "account", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "prefix", "account__owner__email"]
    list_select_related = ["account__owner"]
    readonly_fields = [
        "account",
        "prefix",
        "secret_hash",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    fields = ["account", "name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke_keys"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are issued by the customer or `manage.py create_api_key`

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request, queryset) -> None:
        for key in queryset.select_related("account"):
            services.api_key_revoke(account=key.account, key_id=key.pk)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(TierChange)
class TierChangeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "from_tier", "to_tier", "source", "actor"]
    list_filter = ["to_tier", "source"]
    search_fields = ["account__owner__email", "reason"]
    list_select_related = ["account__owner", "actor"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# Webhook endpoints, deliveries and events (their ModelAdmins live with the package).
from accounts.webhooks import admin as webhooks_admin  # noqa: E402, F401
