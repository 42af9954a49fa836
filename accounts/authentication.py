"""DRF authentication of the two kinds of API callers."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.jwt_tokens import InvalidAppTokenError, verify_app_token
from accounts.models import ServiceApiKey
from accounts.principals import AppUser, ServicePrincipal

# Recording every use of a key would write a row per request; once a minute is
# enough to tell in the admin which keys are alive.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# Checking a key was a query and a hash per request (a fifth of the event endpoint's CPU): a verified key is
# kept API_KEY_CACHE_SECONDS in the process. Revoking or changing a key clears it at once in the process that
# saved it, and within API_KEY_CACHE_SECONDS in the others (README, "Configuration").
_verified: dict[bytes, tuple[float, ServiceApiKey]] = {}
_VERIFIED_MAX = 1000


def _forget_verified_keys(**kwargs: object) -> None:
    _verified.clear()


post_save.connect(_forget_verified_keys, sender=ServiceApiKey, dispatch_uid="forget-verified-api-keys")
post_delete.connect(_forget_verified_keys, sender=ServiceApiKey, dispatch_uid="forget-verified-api-keys")


def _api_key(key: str) -> ServiceApiKey:
    """The usable key `key` is, from this process's memory if it was verified within API_KEY_CACHE_SECONDS."""
    digest = hashlib.sha256(key.encode()).digest()
    now = time.monotonic()
    cached = _verified.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    api_key = ServiceApiKey.objects.get_from_key(key)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[digest] = (now + settings.API_KEY_CACHE_SECONDS, api_key)
    return api_key


def _credentials(request: Request, scheme: str) -> str | None:
    header = authentication.get_authorization_header(request).decode("latin-1")
    name, _, value = header.partition(" ")
    if name.lower() != scheme.lower():
        return None
    value = value.strip()
    if not value:
        raise exceptions.AuthenticationFailed(f"The {scheme} credentials are empty.")
    return value


class AppUserJWTAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <jwt>` signed by the shop's auth server."""

    # What the API docs (config.api_docs) say of it, and the credentials their curl examples send.
    docs_credentials = "Bearer $JWT"

    @staticmethod
    def docs_text(scopes: Sequence[str]) -> str:
        return (
            "**Authentication**: the shopper's JWT from the shop's auth server, as `Authorization: Bearer <jwt>`. "
            "It acts for the shopper the token names (its `sub`); no scope is needed."
        )

    def authenticate(self, request: Request) -> tuple[AppUser, str] | None:
        token = _credentials(request, "Bearer")
        if token is None:
            return None
        try:
            user_id = verify_app_token(token)
        except InvalidAppTokenError as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return AppUser(id=user_id), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="pushcart"'


class ServiceApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>` created in the admin or by `create_api_key`."""

    # What the API docs (config.api_docs) say of it, and the credentials their curl examples send.
    docs_credentials = "Api-Key $KEY"

    @staticmethod
    def docs_text(scopes: Sequence[str]) -> str:
        named = ", ".join(f"`{scope}`" for scope in scopes) or "none"
        return (
            f"**Scope**: {named}. **Authentication**: a business service's API key carrying that scope, "
            "as `Authorization: Api-Key <key>`; a key without it is answered 403."
        )

    def authenticate(self, request: Request) -> tuple[ServicePrincipal, ServiceApiKey] | None:
        key = _credentials(request, "Api-Key")
        if key is None:
            return None
        try:
            api_key = _api_key(key)
        except ServiceApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.") from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("The API key has expired.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ServiceApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
        principal = ServicePrincipal(key_id=api_key.prefix, name=api_key.name, scopes=frozenset(api_key.scopes))
        return principal, api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Api-Key realm="pushcart"'


class AppUserJWTScheme(OpenApiAuthenticationExtension):
    target_class = AppUserJWTAuthentication
    name = "appUserJWT"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT from the shop's auth server; `sub` is the shopper's user id.",
        }


class ServiceApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ServiceApiKeyAuthentication
    name = "serviceApiKey"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; the key's scopes decide what it may do.",
        }
