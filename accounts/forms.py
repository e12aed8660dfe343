from django import forms

from accounts.models import LimitPeriod
from billing.money import parse_credits


class OptionalCreditsField(forms.CharField):
    """An optional positive amount of credits typed as a decimal: micro-credits or None."""

    def __init__(self, *, placeholder: str = "", **kwargs) -> None:
        attrs = {"placeholder": placeholder, "inputmode": "decimal", "size": 10}
        super().__init__(required=False, widget=forms.TextInput(attrs=attrs), **kwargs)

    def clean(self, value) -> int | None:
        text = (super().clean(value) or "").strip()
        if not text:
            return None
        try:
            micro = parse_credits(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if micro <= 0:
            raise forms.ValidationError("Give more than 0 credits, or leave it empty.")
        return micro


class ApiKeyLimitsForm(forms.Form):
    credit_limit = OptionalCreditsField(
        label="Credit limit",
        help_text="Optional: the most this key may spend (credits).",
        placeholder="no limit",
    )
    limit_period = forms.ChoiceField(choices=LimitPeriod.choices, required=False, label="Resets")
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        help_text="Optional, UTC.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class ApiKeyCreateForm(ApiKeyLimitsForm):
    name = forms.CharField(
        max_length=100,
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. production backend", "autocomplete": "off"}
        ),
    )
    field_order = ["name", "credit_limit", "limit_period", "expires_at"]
