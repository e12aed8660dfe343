from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey
from billing import ratelimit


class ApiKeyRateThrottle(BaseThrottle):
    """The REST API's own generous per-key limit (API_RATE_LIMIT_PER_MINUTE), separate
    from the tier's model-request limit that metering applies. Its state goes into the
    X-RateLimit-* headers of every API-key response."""

    def allow_request(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        self.decision = ratelimit.hit(f"api:{request.auth.pk}", settings.API_RATE_LIMIT_PER_MINUTE)
        request._request.yx_ratelimit = self.decision
        return self.decision.allowed

    def wait(self) -> int | None:
        return self.decision.retry_after
