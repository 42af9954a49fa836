"""Rate limits key on the client's address as the trusted proxies say, not as the client says.

Before the fix DRF's default (NUM_PROXIES unset) keyed the refused-authentication throttle on the whole
X-Forwarded-For header when there was one: rotating its left-most value gave each guess a fresh budget
(200 refused logins, no 429).
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def low_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    # Per hour: the throttle counts in fixed windows, and a test must not straddle one's edge.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/hour", "user": "5/hour"})


def guesses(forwarded_for: list[str], remote_addr: str = "192.0.2.10") -> list[int]:
    """A refused login per X-Forwarded-For value, from one connection address; the statuses."""
    client = APIClient(REMOTE_ADDR=remote_addr)
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    return [client.get("/api/v1/devices/", HTTP_X_FORWARDED_FOR=xff).status_code for xff in forwarded_for]


def test_without_trusted_proxies_x_forwarded_for_is_ignored():
    rotating = [f"203.0.113.{n}" for n in range(5)]
    assert guesses(rotating) == [401] * 3 + [429] * 2
    rotating_left_most = [f"203.0.113.{n}, 198.51.100.7" for n in range(5, 10)]
    assert guesses(rotating_left_most) == [429] * 5  # the same connection address: still the same budget
    assert guesses(["203.0.113.1"], remote_addr="192.0.2.11") == [401]  # another address has its own


def test_with_one_trusted_proxy_the_address_it_added_is_the_key(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # The proxy appends the address it saw; what the client wrote to the left of it changes nothing.
    rotating_left_most = [f"203.0.113.{n}, 198.51.100.7" for n in range(5)]
    assert guesses(rotating_left_most) == [401] * 3 + [429] * 2
    # Another client behind the same proxy (the same connection address) has its own budget.
    assert guesses(["198.51.100.8"]) == [401]
