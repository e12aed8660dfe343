from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.services import api_key_authenticate
from yunxin.errors import InvalidApiKey, is_api_path, json_error

log = logging.getLogger(__name__)


class ApiResponseHeadersMiddleware:
    """Adds X-Request-Priority to every response to an API-key request, and makes sure
    nothing under /api/ or /v1/ answers with an HTML error page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        account = getattr(request, "yx_account", None)
        if account is None and is_api_path(request):
            account = _account_of_presented_key(request)
        if account is not None:
            response.setdefault("X-Request-Priority", str(account.tier_info.priority))
        decision = getattr(request, "yx_ratelimit", None)
        if decision is not None:
            for name, value in decision.headers().items():
                response.setdefault(name, value)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        # Errors outside DRF views (a plain Django view under /api/) still answer JSON.
        if is_api_path(request):
            log.exception("Unhandled error", exc_info=exception)
            return json_error("internal_error", "Something went wrong on our side.", 500)
        return None


def _account_of_presented_key(request: HttpRequest):
    """For API responses no DRF view authenticated (an unknown URL): still tell an
    API-key caller its priority."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.startswith("yx_"):
        return None
    try:
        return api_key_authenticate(raw_key=token.strip()).account
    except InvalidApiKey:
        return None
