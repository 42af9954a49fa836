"""DRF permissions: who may call what."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.principals import AppUser, ServicePrincipal


class IsAppUser(BasePermission):
    """A shopper authenticated by JWT."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, AppUser)


def require_scope(scope: str) -> type[BasePermission]:
    """A permission class that admits an API key carrying `scope` (403 otherwise)."""

    class HasScope(BasePermission):
        # What the check admits, and what the API docs state as the endpoint's scope (config.api_docs): one attribute.
        required_scope = scope
        message = f"This API key lacks the scope {scope!r}."

        def has_permission(self, request: Request, view: APIView) -> bool:
            return isinstance(request.user, ServicePrincipal) and request.user.has_scope(self.required_scope)

    HasScope.__name__ = f"HasScope[{scope}]"
    return HasScope
