"""What shopper protection decides about a notification, and what it reads of one."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from django.db import models


class PolicyOutcome(models.TextChoices):
    """Why shopper protection held a notification back (written on the notification)."""

    OPTED_OUT = "opted_out", "Opted out of the category"
    CAPPED = "capped", "Frequency cap reached"
    QUIET_HOURS = "quiet_hours", "Deferred: quiet hours"
    QUIET_HOURS_EXPIRED = "quiet_hours_expired", "Quiet hours outlast its TTL"
    DUPLICATE = "duplicate", "Duplicate within the window"


class Judged(Protocol):
    """The fields of a notification the policy reads (a stored Notification or the engine's row of one)."""

    pk: int
    user_id: str
    category: str
    dedup_key: str
    dedup_seconds: int
    frequency_caps: list | tuple
    ttl_seconds: int

    @property
    def due_at(self) -> datetime: ...
