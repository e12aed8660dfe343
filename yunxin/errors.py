"""The one error hierarchy of the portal and its JSON shape on the API.

Services raise `DomainError` subclasses; each carries the stable code and HTTP status the
API answers with: `{"error": {"code": "...", "message": "..."}}`. Nothing under /api/ or
/v1/ ever answers with HTML or a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import exceptions, status
from rest_framework.response import Response

log = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/v1/")


class DomainError(Exception):
    code = "error"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "The request could not be completed."

    def __init__(
        self, message: str | None = None, *, headers: dict[str, str] | None = None, **details: Any
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    code = "validation_error"
    default_message = "The request is not valid."


class NotFound(DomainError):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "Not found."


class InvalidApiKey(DomainError):
    code = "invalid_api_key"
    status_code = status.HTTP_401_UNAUTHORIZED
    default_message = "The API key is missing, malformed, unknown or revoked."


class Conflict(DomainError):
    code = "conflict"
    status_code = status.HTTP_409_CONFLICT


def error_body(code: str, message: str, **details: Any) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = (
        "A service the portal depends on is briefly unavailable. Retry shortly with the same "
        "request: metering calls are idempotent by request id."
    )


# The database, Redis or the broker unreachable, restarting or timing out: the request
# failed as a whole (its transaction rolled back) and trying again soon can succeed.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    BrokerError,
)
RETRY_AFTER_SECONDS = 2


def is_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, OUTAGE_ERRORS)


def outage_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After: JSON under /api/ and /v1/, a short page elsewhere."""
    log.warning("Dependency unavailable on %s %s: %r", request.method, request.path, exc)
    if is_api_path(request):
        error = ServiceUnavailable()
        response: HttpResponse = JsonResponse(error_body(error.code, error.message), status=503)
    else:
        response = HttpResponse(
            "<!doctype html><title>Briefly unavailable</title><h1>Briefly unavailable</h1>"
            "<p>Yunxin cannot reach one of its services right now. Please try again in a "
            "moment.</p>",
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class ServiceUnavailableMiddleware:
    """Last in MIDDLEWARE (so it sees a view's exception first): an outage of the
    database, Redis or the broker answers 503 with Retry-After, never a 500 or a hang.
    Errors raised in other middleware reach the same answer through handler500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        return outage_response(request, exception) if is_outage(exception) else None


class InvalidServiceToken(exceptions.AuthenticationFailed):
    default_detail = "Invalid metering service token."


# DRF exception class -> stable code. Subclasses are matched by isinstance, in order.
_DRF_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.ParseError, "validation_error"),
    (exceptions.ValidationError, "validation_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (InvalidServiceToken, "invalid_service_token"),
    (exceptions.AuthenticationFailed, "invalid_api_key"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
]


def _drf_message(exc: exceptions.APIException) -> tuple[str, dict]:
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        first = next(iter(fields.items()), ("", [""]))
        problem = first[1][0] if isinstance(first[1], list) and first[1] else first[1]
        where = "" if first[0] in ("non_field_errors", "") else f"{first[0]}: "
        return f"{where}{problem}", {"fields": fields}
    return str(detail), {}


def api_exception_handler(exc: Exception, context: dict) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        return Response(
            error_body(exc.code, exc.message, **exc.details),
            status=exc.status_code,
            headers=exc.headers,
        )
    if is_outage(exc):
        log.warning("Dependency unavailable in an API view: %r", exc)
        error = ServiceUnavailable()
        return Response(
            error_body(error.code, error.message),
            status=error.status_code,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        log.exception("Unhandled error in API view", exc_info=exc)
        return Response(
            error_body("internal_error", "Something went wrong on our side."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait))
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    message, details = _drf_message(exc)
    return Response(error_body(code, message, **details), status=exc.status_code, headers=headers)


def is_api_path(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def json_error(code: str, message: str, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)
