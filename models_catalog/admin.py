"""Staff run the catalogue here. Rates are added through `services.rate_add`; a rate that
has taken effect cannot be edited or removed (usage has been charged at it), only a
scheduled one can be withdrawn."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Subquery
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from models_catalog import selectors, services
from models_catalog.models import AIModel, Provider, Rate
from models_catalog.templatetags.catalog import price
from yunxin.errors import ValidationFailed

PRICE_FIELDS = [
    "input_per_mtok",
    "output_per_mtok",
    "reasoning_per_mtok",
    "cached_input_per_mtok",
    "unit_price",
    "unit",
]


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "website", "active", "model_count"]
    list_filter = ["active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_models=Count("models", filter=Q(models__active=True)))
        )

    @admin.display(description="Active models", ordering="n_models")
    def model_count(self, obj: Provider) -> int:
        return obj.n_models


class RateInlineForm(forms.ModelForm):
    effective_from = forms.SplitDateTimeField(
        required=False,
        widget=AdminSplitDateTime,
        help_text="UTC. Leave empty for now; a future moment schedules the change.",
    )

    class Meta:
        model = Rate
        fields = ["effective_from", *PRICE_FIELDS]

    def _post_clean(self) -> None:
        # Rows of this form are never saved by the form: the formset asks
        # services.rate_validate and the admin calls services.rate_add. Skipping the
        # instance's own validation keeps messages in the service's words instead of
        # "Constraint rate_has_a_price is violated."
        return None


class RateFormSet(BaseInlineFormSet):
    """Existing rows are view-only (the inline has no change permission). New rows and
    withdrawals are checked by the services here, so problems show as form errors."""

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        rate = form.instance
        if rate.pk and rate.has_taken_effect() and "DELETE" in form.fields:
            form.fields["DELETE"].widget.attrs["disabled"] = True

    def clean(self) -> None:
        super().clean()
        for form in self.initial_forms:
            if self._should_delete_form(form) and form.instance.has_taken_effect():
                raise ValidationError(
                    f"The rate from {form.instance.effective_from:%Y-%m-%d %H:%M} UTC has "
                    "already taken effect and cannot be removed."
                )
        for form in self.extra_forms:
            if not form.has_changed() or self._should_delete_form(form) or form.errors:
                continue
            try:
                services.rate_validate(model=self.instance, **new_rate_fields(form))
            except ValidationFailed as exc:
                form.add_error(None, exc.message)


def new_rate_fields(form: RateInlineForm) -> dict:
    data = {name: form.cleaned_data.get(name) for name in PRICE_FIELDS}
    data["unit"] = data["unit"] or ""
    data["effective_from"] = form.cleaned_data.get("effective_from") or timezone.now()
    return data


class RateInline(admin.TabularInline):
    model = Rate
    form = RateInlineForm
    formset = RateFormSet
    extra = 1
    fields = ["effective_from", *PRICE_FIELDS, "state", "created_by", "created_at"]
    readonly_fields = ["state", "created_by", "created_at"]
    ordering = ["-effective_from"]
    verbose_name = "rate"
    verbose_name_plural = "Rates (credits per 1M tokens, or per unit) — history and changes"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._in_force: dict[int, int | None] = {}

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # rates are never edited: a change is a new row

    @admin.display(description="State")
    def state(self, rate: Rate) -> str:
        if rate.pk is None:
            return "new"
        if not rate.has_taken_effect():
            return "Scheduled"
        if rate.model_id not in self._in_force:
            current = selectors.rate_in_force(model_id=rate.model_id)
            self._in_force[rate.model_id] = current.pk if current else None
        return "In force" if self._in_force[rate.model_id] == rate.pk else "Superseded"


class AIModelAdminForm(forms.ModelForm):
    class Meta:
        model = AIModel
        fields = [
            "provider",
            "slug",
            "display_name",
            "description",
            "active",
            "modality",
            "context_length",
            "size_class",
            "min_tier",
            "experimental",
        ]

    def clean(self):
        cleaned = super().clean()
        provider, slug = cleaned.get("provider"), cleaned.get("slug")
        if provider and slug:
            try:
                services.model_slug_validate(slug=slug, provider=provider)
            except ValidationFailed as exc:
                self.add_error("slug", exc.message)
        return cleaned


@admin.register(AIModel)
class AIModelAdmin(admin.ModelAdmin):
    form = AIModelAdminForm
    list_display = [
        "slug",
        "display_name",
        "provider",
        "modality",
        "required_tier_display",
        "experimental",
        "active",
        "price_now",
    ]
    list_filter = ["active", "modality", "min_tier", "experimental", "size_class", "provider"]
    search_fields = ["slug", "display_name", "provider__name", "description"]
    list_select_related = ["provider"]
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["provider", "slug", "display_name", "description", "active"]}),
        ("Capabilities", {"fields": ["modality", "context_length", "size_class"]}),
        ("Access", {"fields": ["min_tier", "experimental"]}),
        (None, {"fields": ["created_at"]}),
    ]
    inlines = [RateInline]
    actions = ["activate_models", "deactivate_models"]

    def get_queryset(self, request):
        in_force = selectors.in_force_subquery(timezone.now())
        return (
            super()
            .get_queryset(request)
            .annotate(
                now_input=Subquery(in_force.values("input_per_mtok")[:1]),
                now_output=Subquery(in_force.values("output_per_mtok")[:1]),
                now_unit_price=Subquery(in_force.values("unit_price")[:1]),
                now_unit=Subquery(in_force.values("unit")[:1]),
            )
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # usage refers to models: deactivate instead

    @admin.display(description="Required tier", ordering="min_tier")
    def required_tier_display(self, obj: AIModel) -> str:
        return obj.get_min_tier_display() if not obj.experimental else "Enterprise (experimental)"

    @admin.display(description="Price now (credits)")
    def price_now(self, obj: AIModel) -> str:
        if obj.now_unit_price is not None:
            return f"{price(obj.now_unit_price)} / {obj.now_unit}"
        if obj.now_input is not None:
            return f"{price(obj.now_input)} in · {price(obj.now_output)} out / 1M"
        return "—"

    def save_formset(self, request, form, formset, change) -> None:
        if not isinstance(formset, RateFormSet):
            return super().save_formset(request, form, formset, change)
        # The formset was checked in clean(); the services check again under their own
        # transaction, and a race lost meanwhile is reported, not raised.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for rate_form in formset.deleted_forms:
            if rate_form.instance.pk is None:
                continue
            try:
                removed = services.rate_cancel(rate_id=rate_form.instance.pk)
            except ValidationFailed as exc:
                messages.error(request, exc.message)
                continue
            if removed is not None:
                formset.deleted_objects.append(removed)
        for rate_form in formset.extra_forms:
            if not rate_form.has_changed() or rate_form in formset.deleted_forms:
                continue
            try:
                rate = services.rate_add(
                    model=form.instance, actor=request.user, **new_rate_fields(rate_form)
                )
            except ValidationFailed as exc:
                messages.error(request, f"The rate change was not added: {exc.message}")
                continue
            formset.new_objects.append(rate)
        return None

    @admin.action(description="Activate selected models")
    def activate_models(self, request, queryset) -> None:
        self._set_active(request, queryset, active=True)

    @admin.action(description="Deactivate selected models")
    def deactivate_models(self, request, queryset) -> None:
        self._set_active(request, queryset, active=False)

    def _set_active(self, request, queryset, *, active: bool) -> None:
        changed = services.models_set_active(
            model_ids=queryset.values_list("pk", flat=True), active=active
        )
        verb = "Activated" if active else "Deactivated"
        for model in changed:
            self.log_change(request, model, f"{verb} (bulk action)")
        self.message_user(request, f"{verb} {len(changed)} model(s).", messages.SUCCESS)


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    """Every rate of the catalogue, read-only. Rates are added on their model's page."""

    list_display = [
        "model",
        "effective_from",
        "input_per_mtok",
        "output_per_mtok",
        "reasoning_per_mtok",
        "cached_input_per_mtok",
        "unit_price",
        "unit",
        "created_by",
        "created_at",
    ]
    list_filter = ["model__provider", "model__modality", "effective_from"]
    search_fields = ["model__slug", "model__display_name"]
    list_select_related = ["model", "created_by"]
    date_hierarchy = "effective_from"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
