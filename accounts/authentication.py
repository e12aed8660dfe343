from __future__ import annotations

import hmac

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.services import api_key_authenticate
from yunxin.errors import InvalidApiKey, InvalidServiceToken


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer yx_…`. Sets request.auth to the ApiKey.

    The account is also put on the underlying Django request so that middleware can add
    the priority header to every response to an API-key request, errors included.
    """

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword:
            return None
        try:
            key = api_key_authenticate(raw_key=token.strip())
        except InvalidApiKey as exc:
            raise exceptions.AuthenticationFailed(exc.message) from exc
        request._request.yx_api_key = key
        request._request.yx_account = key.account
        return (key.account.owner, key)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the key scheme in the OpenAPI schema."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "yx_<prefix>_<secret>",
            "description": "A customer API key from the dashboard's API keys page.",
        }


class MeteringService:
    """The gateway, authenticated by METERING_SERVICE_TOKEN. Not a user."""

    is_authenticated = True
    is_active = True
    pk = None

    def __str__(self) -> str:
        return "metering-service"


class ServiceTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <METERING_SERVICE_TOKEN>` for the metering endpoints."""

    def authenticate(self, request):
        scheme, _, token = (
            authentication.get_authorization_header(request).decode("latin-1").partition(" ")
        )
        expected = settings.METERING_SERVICE_TOKEN
        if scheme.lower() != "bearer" or not token:
            return None
        if not expected or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise InvalidServiceToken()
        return (MeteringService(), "service")

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="metering"'


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ServiceTokenAuthentication"
    name = "MeteringServiceToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "bearer", "description": "METERING_SERVICE_TOKEN"}
