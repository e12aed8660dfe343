"""Admin columns that show money the one way the portal shows it."""

from __future__ import annotations

from django.contrib import admin

from billing.templatetags.money import credits, minor


def credits_column(attr: str, description: str):
    """A ModelAdmin column showing micro-credits `obj.<attr>` as credits."""

    @admin.display(description=description)
    def column(self, obj) -> str:
        return credits(getattr(obj, attr))

    return column


def cash_column(attr: str, description: str):
    """A ModelAdmin column showing minor units `obj.<attr>` in `obj.currency`."""

    @admin.display(description=description)
    def column(self, obj) -> str:
        return minor(getattr(obj, attr), obj.currency)

    return column
