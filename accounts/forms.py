from django import forms

from accounts.models import LimitPeriod
from billing.money import parse_credits


class ApiKeyLimitsForm(forms.Form):
    credit_limit = forms.CharField(
        required=False,
        label="Credit limit",
        help_text="Optional: the most this key may spend (credits).",
        widget=forms.TextInput(
            attrs={"placeholder": "no limit", "inputmode": "decimal", "size": 10}
        ),
    )
    limit_period = forms.ChoiceField(choices=LimitPeriod.choices, required=False, label="Resets")
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        help_text="Optional, UTC.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean_credit_limit(self) -> int | None:
        text = self.cleaned_data["credit_limit"].strip()
        if not text:
            return None
        try:
            micro = parse_credits(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if micro <= 0:
            raise forms.ValidationError("A limit must be more than 0 credits.")
        return micro


class ApiKeyCreateForm(ApiKeyLimitsForm):
    name = forms.CharField(
        max_length=100,
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. production backend", "autocomplete": "off"}
        ),
    )
    field_order = ["name", "credit_limit", "limit_period", "expires_at"]
