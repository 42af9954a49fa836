"""When to try a failed delivery again: exponential backoff with full jitter."""

from __future__ import annotations

import random

from django.conf import settings


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1-based).

    Full jitter (a uniform draw below the exponential bound) spreads the retries
    of a burst of failures instead of sending them back all at once; the
    provider's Retry-After, when it gave one, is the least we wait.
    """
    bound = min(
        settings.DELIVERY_BACKOFF_CAP_SECONDS,
        settings.DELIVERY_BACKOFF_BASE_SECONDS * settings.DELIVERY_BACKOFF_FACTOR ** max(0, attempts - 1),
    )
    delay = random.uniform(0, bound)  # noqa: S311 (jitter, not a secret)
    return max(delay, retry_after or 0.0)
