"""A campaign's schedule, pace and durations in words, as the marketer reads them (list, campaign page, review)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from campaigns.models import Campaign, Recurrence, ScheduleKind

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration_in_words(value: timedelta | int | float, *, parts: int = 2) -> str:
    """'2 days', '1 hour 30 minutes', '45 seconds': the `parts` largest units that are not zero (4: exact)."""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds <= 0:
        return "no time"
    words = []
    for name, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            words.append(f"{count:,} {name}{'' if count == 1 else 's'}")
    return " ".join(words[:parts])


def _day(value: date, *, today: date) -> str:
    """'Tue 1 Dec', with the year when it is not this year's."""
    text = f"{value:%a} {value.day} {value:%b}"
    return text if value.year == today.year else f"{text} {value.year}"


def schedule_in_words(campaign: Campaign, *, now: datetime | None = None) -> str:
    """'now', 'at Tue 1 Dec 10:00 UTC', 'Tue 1 Dec 10:00 in each shopper's time zone', 'every Monday at 09:00
    (Europe/Berlin)', 'on the cron schedule "0 17 * * 5" (UTC)'; what is still to be chosen is said so."""
    today = (now or timezone.now()).astimezone(UTC).date()
    kind = campaign.schedule
    if kind == ScheduleKind.NOW:
        return "now"
    if kind == ScheduleKind.AT:
        if campaign.send_at is None:
            return "at a date and time not chosen yet"
        at = campaign.send_at.astimezone(UTC)
        return f"at {_day(at.date(), today=today)} {at:%H:%M} UTC"
    if kind == ScheduleKind.LOCAL:
        if campaign.local_date is None or campaign.local_time is None:
            return "at a time of day in each shopper's time zone, not chosen yet"
        return f"{_day(campaign.local_date, today=today)} {campaign.local_time:%H:%M} in each shopper's time zone"
    zone = campaign.recurrence_timezone or "UTC"
    if campaign.recurrence == Recurrence.CRON:
        return f'on the cron schedule "{campaign.cron}" ({zone})' if campaign.cron else "by a cron schedule not set yet"
    at = f" at {campaign.recurrence_time:%H:%M}" if campaign.recurrence_time else ""
    if campaign.recurrence == Recurrence.DAILY:
        return f"every day{at} ({zone})"
    if campaign.recurrence == Recurrence.WEEKLY:
        day = campaign.get_recurrence_weekday_display() if campaign.recurrence_weekday is not None else "week"
        return f"every {day}{at} ({zone})"
    return "recurring, how often not chosen yet"


def pace_in_words(per_minute: int | None, shoppers: int) -> str:
    """How the throttle paces the audience: 'at most 500 a minute: about 24 minutes for 12,000 shoppers'."""
    if not per_minute:
        return "as fast as the providers take them (no throttle)"
    minutes = math.ceil(shoppers / per_minute) if shoppers else 0
    spread = f": about {duration_in_words(minutes * 60)} for {shoppers:,} shoppers" if minutes > 1 else ""
    return f"at most {per_minute:,} a minute{spread}"
