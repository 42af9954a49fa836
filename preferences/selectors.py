"""Reading shoppers' preferences and the caps, as the sending path needs them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass
from datetime import time
from zoneinfo import ZoneInfo

from django.conf import settings

from config import bulk_sql
from preferences.models import FrequencyCap, Preference


@dataclass(frozen=True)
class EffectivePreference:
    """A shopper's preference with the defaults filled in."""

    user_id: str
    disabled_categories: frozenset[str]
    quiet_hours_enabled: bool
    quiet_hours_start: time
    quiet_hours_end: time
    timezone: str  # empty: the devices' time zone

    def wants(self, category: str) -> bool:
        return category in settings.MANDATORY_CATEGORIES or category not in self.disabled_categories


def default_preference(user_id: str) -> EffectivePreference:
    return EffectivePreference(
        user_id=user_id,
        disabled_categories=frozenset(),
        quiet_hours_enabled=True,
        quiet_hours_start=time.fromisoformat(settings.QUIET_HOURS_START),
        quiet_hours_end=time.fromisoformat(settings.QUIET_HOURS_END),
        timezone="",
    )


# The sending path asks for a whole batch's shoppers: one array parameter bound in binary, not one
# placeholder per shopper (Django's `__in`), which cost more than the query itself.
_PREFERENCES = f"""
SELECT user_id, disabled_categories, quiet_hours_enabled, quiet_hours_start, quiet_hours_end, timezone
FROM {Preference._meta.db_table} WHERE user_id = ANY(%b::text[])
"""  # noqa: S608 - only the table name is formatted in


def preferences_for(user_ids: Iterable[str]) -> dict[str, EffectivePreference]:
    """Every user's preference (the defaults where none is stored): one query."""
    wanted = set(user_ids)
    found = {
        user_id: EffectivePreference(user_id, frozenset(disabled), *rest)
        for user_id, disabled, *rest in bulk_sql.execute(_PREFERENCES, [list(wanted)])
    }
    defaults = astuple(default_preference(""))[1:]  # every field but the user id
    return {user_id: found.get(user_id) or EffectivePreference(user_id, *defaults) for user_id in wanted}


def active_caps() -> list[tuple[int, int]]:
    """(window seconds, max pushes) of the active caps, shortest window first."""
    return [
        (int(cap.window.total_seconds()), cap.max_pushes)
        for cap in FrequencyCap.objects.filter(is_active=True).order_by("window")
    ]


def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name or settings.QUIET_HOURS_DEFAULT_TIMEZONE)
