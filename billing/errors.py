from rest_framework import status

from yunxin.errors import Conflict, DomainError


class InsufficientCredits(DomainError):
    code = "insufficient_credits"
    status_code = status.HTTP_402_PAYMENT_REQUIRED


class KeyLimitExceeded(DomainError):
    code = "key_limit_exceeded"
    status_code = status.HTTP_402_PAYMENT_REQUIRED


class RateLimited(DomainError):
    code = "rate_limited"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = "This request id was already used with a different body."
