"""Who is calling the API. Neither kind is a Django user: app users belong to
the shop's auth server, and business services are known by their API key."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AppUser:
    """A shopper of the mobile app, identified by the `sub` claim of their JWT."""

    id: str
    is_authenticated: bool = field(default=True, init=False)

    @property
    def pk(self) -> str:  # DRF's user throttle keys on this
        return f"user:{self.id}"


@dataclass(frozen=True)
class ServicePrincipal:
    """A business service calling with an API key."""

    key_id: str
    name: str
    scopes: frozenset[str]
    is_authenticated: bool = field(default=True, init=False)

    @property
    def pk(self) -> str:
        return f"key:{self.key_id}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
