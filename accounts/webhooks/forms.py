from django import forms

from accounts.forms import OptionalCreditsField
from accounts.webhooks.events import EVENT_TYPES, SUBSCRIBABLE
from billing.money import format_credits


class EndpointForm(forms.Form):
    url = forms.URLField(
        max_length=2000,
        label="URL",
        assume_scheme="https",
        widget=forms.URLInput(
            attrs={"placeholder": "https://example.com/webhooks/yunxin", "size": 50}
        ),
    )
    description = forms.CharField(
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "optional, e.g. billing alerts"}),
    )
    event_types = forms.MultipleChoiceField(
        label="Events to send",
        # The value is the event type, the label its summary (the template shows both).
        choices=[(name, EVENT_TYPES[name].summary) for name in SUBSCRIBABLE],
        initial=SUBSCRIBABLE,
        widget=forms.CheckboxSelectMultiple,
    )

    @classmethod
    def for_endpoint(cls, endpoint, data=None) -> "EndpointForm":
        initial = {
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": endpoint.event_types,
        }
        return cls(data, initial=initial)


class LowBalanceForm(forms.Form):
    low_balance_threshold = OptionalCreditsField(
        label="Low-balance threshold (credits)",
        help_text="credits.low_balance fires when a charge takes your available credits "
        "below this. Empty: off.",
        placeholder="off",
    )

    @classmethod
    def for_account(cls, account, data=None) -> "LowBalanceForm":
        threshold = account.webhook_low_balance_threshold
        initial = {"low_balance_threshold": format_credits(threshold) if threshold else ""}
        return cls(data, initial=initial)
