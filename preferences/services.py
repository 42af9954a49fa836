"""Changing a shopper's preferences; switching a category off holds back what is not yet delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from django.db import transaction
from django.utils import timezone

from preferences.models import Preference
from preferences.selectors import default_preference
from preferences.signals import categories_switched_off


@dataclass(frozen=True)
class QuietHoursChange:
    enabled: bool | None = None
    start: time | None = None
    end: time | None = None


@dataclass(frozen=True)
class Withdrawn:
    notifications: int
    deliveries: int


def update_preferences(
    user_id: str,
    *,
    categories: dict[str, bool] | None = None,
    quiet_hours: QuietHoursChange | None = None,
    timezone_name: str | None = None,
) -> tuple[Preference, Withdrawn]:
    """Apply the given changes (None: unchanged); categories not named keep their state.

    Notifications of a category just switched off that are not delivered yet are withdrawn in the
    same transaction: pending or scheduled ones are suppressed (opted out) and their queued or
    retrying deliveries cancelled. A delivery already in flight to the provider is not recalled.
    """
    with transaction.atomic():
        defaults = default_preference(user_id)
        preference, _ = Preference.objects.select_for_update().get_or_create(
            user_id=user_id,
            defaults={"quiet_hours_start": defaults.quiet_hours_start, "quiet_hours_end": defaults.quiet_hours_end},
        )
        before = set(preference.disabled_categories)
        if categories is not None:
            disabled = set(before)
            for category, enabled in categories.items():
                (disabled.discard if enabled else disabled.add)(category)
            preference.disabled_categories = sorted(disabled)
        if quiet_hours is not None:
            if quiet_hours.enabled is not None:
                preference.quiet_hours_enabled = quiet_hours.enabled
            if quiet_hours.start is not None:
                preference.quiet_hours_start = quiet_hours.start
            if quiet_hours.end is not None:
                preference.quiet_hours_end = quiet_hours.end
        if timezone_name is not None:
            preference.timezone = timezone_name
        preference.updated_at = timezone.now()
        preference.save()
        withdrawn = _withdraw(user_id, set(preference.disabled_categories) - before)
    return preference, withdrawn


def _withdraw(user_id: str, categories: set[str]) -> Withdrawn:
    if not categories:
        return Withdrawn(0, 0)
    answers = [answer for _, answer in categories_switched_off.send(Preference, user_id=user_id, categories=categories)]
    return Withdrawn(sum(n for n, _ in answers), sum(d for _, d in answers))
