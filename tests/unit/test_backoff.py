"""When a failed delivery is tried again: exponential bound, full jitter below it, Retry-After as the floor."""

from __future__ import annotations

import random

import pytest

from notifications.backoff import retry_delay


@pytest.fixture(autouse=True)
def backoff_settings(settings):  # type: ignore[no-untyped-def]
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 5
    settings.DELIVERY_BACKOFF_FACTOR = 2
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 600


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Each jitter draw's range; the draw returns its upper end, so the result shows the bound."""
    seen: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        seen.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    return seen


# attempts failed so far, provider's Retry-After -> the bound of the jitter, the delay when the draw hits it
TABLE = [
    (0, None, 5, 5),  # never below the first step
    (1, None, 5, 5),
    (2, None, 10, 10),
    (3, None, 20, 20),
    (7, None, 320, 320),
    (8, None, 600, 600),  # 640 capped
    (30, None, 600, 600),
    (1, 0.0, 5, 5),  # Retry-After: 0 is no floor
    (1, 30.0, 5, 30),  # the provider asked for more than the backoff
    (8, 1000.0, 600, 1000),  # and may ask for more than the cap
    (3, 7.5, 20, 20),  # less than the draw: the draw stands
]


@pytest.mark.parametrize(("attempts", "retry_after", "bound", "delay"), TABLE)
def test_retry_delay(
    draws: list[tuple[float, float]], attempts: int, retry_after: float | None, bound: float, delay: float
) -> None:
    assert retry_delay(attempts, retry_after) == delay
    assert draws == [(0, bound)]  # full jitter: anywhere from now to the bound


def test_the_jitter_spreads_a_burst_of_retries_below_the_bound() -> None:
    delays = [retry_delay(4) for _ in range(200)]
    assert all(0 <= d <= 40 for d in delays)
    assert len(set(delays)) > 150  # spread out, not sent back together
