"""Quiet hours: when a marketing push would arrive at night in the shopper's own time zone.

Pure functions over aware datetimes and zoneinfo, so daylight-saving changes are
PostgreSQL- and worker-independent: the end of the quiet period is a wall-clock
time in the shopper's zone (08:00 is 08:00 after the clocks change too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.zone.key}"


def quiet_until(hours: QuietHours, now: datetime) -> datetime | None:
    """The end of the quiet period `now` falls in (UTC-aware), or None when it is not quiet.

    A period that crosses midnight (21:00-08:00) covers [start, 24:00) and [00:00, end);
    start == end means no quiet hours at all.
    """
    if hours.start == hours.end:
        return None
    local = now.astimezone(hours.zone)
    clock = local.time()
    crosses_midnight = hours.start > hours.end
    inside = (clock >= hours.start or clock < hours.end) if crosses_midnight else hours.start <= clock < hours.end
    if not inside:
        return None
    end_day = local.date()
    if crosses_midnight and clock >= hours.start:
        end_day += timedelta(days=1)
    # A wall-clock time on that day, in that zone: zoneinfo applies the offset in force then (DST-safe).
    return datetime.combine(end_day, hours.end, tzinfo=hours.zone).astimezone(ZoneInfo("UTC"))
