from __future__ import annotations

from urllib.parse import urlencode

from django import forms

from accounts.tiers import TierName
from models_catalog.models import Modality
from models_catalog.selectors import SORTS, CatalogueFilters, providers_listed


class CatalogueFilterForm(forms.Form):
    """The Models page's filters, read from the query string so a view can be shared.
    An unknown value in one field is ignored rather than failing the whole page."""

    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name or provider", "autocomplete": "off"}
        ),
    )
    provider = forms.ChoiceField(required=False)
    modality = forms.ChoiceField(
        required=False, choices=[("", "All modalities"), *Modality.choices]
    )
    tier = forms.ChoiceField(
        required=False, label="Required tier", choices=[("", "Any tier"), *TierName.choices]
    )
    available = forms.BooleanField(required=False, label="Available to me")
    sort = forms.ChoiceField(
        required=False,
        choices=list(SORTS.items()),
        widget=forms.Select(
            attrs={
                "title": "Text models by input + output credits per 1M tokens, "
                "then per-unit models by unit price"
            }
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [
            ("", "All providers"),
            *((p.slug, p.name) for p in providers_listed()),
        ]

    def _value(self, name: str):
        self.is_valid()  # cleaned_data then holds the fields that are valid
        return self.cleaned_data.get(name) or ""

    def filters(self, *, tier: str) -> CatalogueFilters:
        return CatalogueFilters(
            search=self._value("q").strip(),
            provider=self._value("provider"),
            modality=self._value("modality"),
            tier=self._value("tier"),
            accessible_to=tier if self._value("available") else "",
            sort=self._value("sort") or "name",
        )

    def query_string(self) -> str:
        """The valid, non-default filters as a canonical query string."""
        params = {name: self._value(name) for name in ("q", "provider", "modality", "tier")}
        params["available"] = "on" if self._value("available") else ""
        params["sort"] = "" if self._value("sort") in ("", "name") else self._value("sort")
        params["q"] = params["q"].strip()
        return urlencode({k: v for k, v in params.items() if v})
