"""What shopper protection can tell of one shopper now."""

from __future__ import annotations

from dataclasses import dataclass

from preferences.models import FrequencyCap
from protection import frequency


@dataclass(frozen=True)
class CapUsage:
    name: str
    window_seconds: int
    max_pushes: int
    used: int


def cap_usage(user_id: str) -> list[CapUsage]:
    """Each active cap and how much of it the shopper has used up to now."""
    caps = list(FrequencyCap.objects.filter(is_active=True).order_by("window"))
    windows = [int(cap.window.total_seconds()) for cap in caps]
    used = frequency.counts(user_id, windows) if windows else {}
    return [CapUsage(cap.name, w, cap.max_pushes, used.get(w, 0)) for cap, w in zip(caps, windows, strict=True)]
