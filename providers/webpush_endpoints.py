"""Which Web Push endpoints Pushcart may POST to (issue 17: SSRF).

A subscription's endpoint is a URL that the shopper's browser chose, or that anyone calling the API typed.
Unchecked, a worker would POST to whatever it names (the cloud's metadata service, Redis, an internal admin
page) and keep the answer in the delivery log. So an endpoint must:

- be https (http only with WEB_PUSH_ALLOW_HTTP_ENDPOINTS, for the local simulator);
- carry no user name or password;
- be on a known push service's host (WEB_PUSH_ALLOWED_ORIGINS, as Sygnal's `allowed_endpoints`):
  `fcm.googleapis.com`, or `*.notify.windows.com` for any subdomain; without `:port`, only the scheme's
  default port;
- reach only public addresses: an IP literal is judged here, and `http1.KeepAlivePool` judges every address
  a host name resolves to when it connects (DNS can change after registration).

WEB_PUSH_ALLOW_PRIVATE_ADDRESSES (development and tests only) lets endpoints on loopback and private IP
literals through without the allowlist, and skips the check at connect time: the simulator on 127.0.0.1.
The same rules run at registration (devices.api.serializers) and before every send (providers.webpush).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(address: IPAddress) -> bool:
    """Whether an address is on the public internet: not private, loopback, link-local, reserved, ..."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    allowed_origins: Sequence[str]  # host patterns: "host", "*.domain", optionally ":port"
    allow_http: bool = False
    allow_private: bool = False

    @classmethod
    def from_settings(cls) -> EndpointPolicy:
        from django.conf import settings

        return cls(
            allowed_origins=tuple(settings.WEB_PUSH_ALLOWED_ORIGINS),
            allow_http=settings.WEB_PUSH_ALLOW_HTTP_ENDPOINTS,
            allow_private=settings.WEB_PUSH_ALLOW_PRIVATE_ADDRESSES,
        )

    def problem(self, endpoint: str) -> str | None:
        """Why Pushcart must not POST to `endpoint`, or None if it may."""
        try:
            parts = urlsplit(endpoint)
            host, port = parts.hostname or "", parts.port
        except ValueError:
            return "The endpoint is not a valid URL."
        if parts.scheme != "https" and not (parts.scheme == "http" and self.allow_http):
            return "A push service endpoint must be an https:// URL."
        if "@" in parts.netloc:
            return "A push service endpoint must not carry a user name or password."
        if not host:
            return "The endpoint has no host."
        address = _ip_literal(host)
        if address is not None and not is_public_address(address):
            if self.allow_private:
                return None  # development: the simulator on 127.0.0.1
            return f"{host} is a private, loopback or reserved address, not a push service."
        if not self.origin_allowed(host, port, parts.scheme):
            return f"{parts.netloc} is not a known push service (WEB_PUSH_ALLOWED_ORIGINS)."
        return None

    def origin_allowed(self, host: str, port: int | None, scheme: str) -> bool:
        """Whether `host` (and port) matches an entry of the allowlist."""
        host = host.lower()
        effective_port = port or DEFAULT_PORTS.get(scheme)
        for entry in self.allowed_origins:
            pattern, _, wanted_port = entry.strip().lower().partition(":")
            if wanted_port == "*":
                port_ok = True
            elif wanted_port:
                port_ok = wanted_port.isdigit() and effective_port == int(wanted_port)
            else:
                port_ok = effective_port == DEFAULT_PORTS.get(scheme)
            if port_ok and (host.endswith(pattern[1:]) if pattern.startswith("*.") else host == pattern):
                return True
        return False

    def address_allowed(self, address: str) -> bool:
        """At connect time: whether a resolved address may be connected to."""
        if self.allow_private:
            return True
        parsed = _ip_literal(address.split("%", 1)[0])  # an IPv6 address may carry a zone (%eth0)
        return parsed is not None and is_public_address(parsed)
