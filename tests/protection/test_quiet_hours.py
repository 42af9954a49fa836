"""When a push falls in quiet hours, and when they end: wall-clock times, across time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from notifications.quiet_hours import QuietHours, quiet_until

NIGHT = (time(21, 0), time(8, 0))


def hours(zone: str, start: time = NIGHT[0], end: time = NIGHT[1]) -> QuietHours:
    return QuietHours(start, end, ZoneInfo(zone))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 6, 10, 20, 59), None),  # 20:59 in London (UTC+0 in winter, +1 in summer: 21:59 BST)
        (utc(2026, 1, 10, 20, 59), None),
        (utc(2026, 1, 10, 21, 0), utc(2026, 1, 11, 8, 0)),
        (utc(2026, 1, 11, 7, 59), utc(2026, 1, 11, 8, 0)),
        (utc(2026, 1, 11, 8, 0), None),
    ],
)
def test_a_night_period_crossing_midnight(now, expected):
    if now.month == 6:
        expected_summer = utc(2026, 6, 11, 7, 0)  # 21:59 BST is inside: ends 08:00 BST = 07:00 UTC
        assert quiet_until(hours("Europe/London"), now) == expected_summer
    else:
        assert quiet_until(hours("Europe/London"), now) == expected


def test_the_same_instant_is_quiet_in_one_zone_and_not_in_another():
    now = utc(2026, 11, 26, 12, 0)  # 21:00 in Tokyo, 07:00 in New York, 13:00 in Berlin
    assert quiet_until(hours("Asia/Tokyo"), now) == utc(2026, 11, 26, 23, 0)  # 08:00 JST
    assert quiet_until(hours("America/New_York"), now) == utc(2026, 11, 26, 13, 0)  # 08:00 EST
    assert quiet_until(hours("Europe/Berlin"), now) is None


def test_quiet_hours_end_at_eight_local_time_across_the_autumn_clock_change():
    # Berlin, Saturday 24 Oct 2026 22:30 CEST (UTC+2); the clocks go back at 03:00 on Sunday.
    now = utc(2026, 10, 24, 20, 30)
    end = quiet_until(hours("Europe/Berlin"), now)
    assert end == utc(2026, 10, 25, 7, 0)  # 08:00 CET (UTC+1), not 06:00 UTC
    assert end.astimezone(ZoneInfo("Europe/Berlin")).hour == 8


def test_quiet_hours_end_at_eight_local_time_across_the_spring_clock_change():
    # New York, Saturday 7 Mar 2026 23:00 EST (UTC-5); the clocks go forward at 02:00 on Sunday.
    now = utc(2026, 3, 8, 4, 0)
    assert quiet_until(hours("America/New_York"), now) == utc(2026, 3, 8, 12, 0)  # 08:00 EDT (UTC-4)


def test_a_daytime_period_and_an_empty_one():
    lunch = hours("UTC", time(12, 0), time(13, 30))
    assert quiet_until(lunch, utc(2026, 1, 1, 12, 15)) == utc(2026, 1, 1, 13, 30)
    assert quiet_until(lunch, utc(2026, 1, 1, 13, 30)) is None
    assert quiet_until(hours("UTC", time(0, 0), time(0, 0)), utc(2026, 1, 1, 3, 0)) is None
