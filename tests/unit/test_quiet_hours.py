"""When a push falls in quiet hours, and when they end: wall-clock times, across time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from protection.quiet_hours import QuietHours, quiet_until

NIGHT = (time(21, 0), time(8, 0))
LUNCH = (time(12, 0), time(13, 30))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# zone, (start, end), now (UTC) -> end of the quiet period (UTC), or None when it is not quiet
TABLE = [
    # A night crossing midnight, London in winter (UTC+0): [21:00, 24:00) and [00:00, 08:00).
    pytest.param("Europe/London", NIGHT, utc(2026, 1, 10, 20, 59), None, id="just-before"),
    pytest.param("Europe/London", NIGHT, utc(2026, 1, 10, 21, 0), utc(2026, 1, 11, 8, 0), id="start-is-inside"),
    pytest.param("Europe/London", NIGHT, utc(2026, 1, 10, 23, 59), utc(2026, 1, 11, 8, 0), id="before-midnight"),
    pytest.param("Europe/London", NIGHT, utc(2026, 1, 11, 0, 0), utc(2026, 1, 11, 8, 0), id="midnight"),
    pytest.param("Europe/London", NIGHT, utc(2026, 1, 11, 7, 59), utc(2026, 1, 11, 8, 0), id="after-midnight"),
    pytest.param("Europe/London", NIGHT, utc(2026, 1, 11, 8, 0), None, id="end-is-outside"),
    pytest.param("Europe/London", NIGHT, utc(2026, 1, 11, 12, 0), None, id="midday"),
    # London in summer (UTC+1): 20:59 UTC is 21:59 BST, inside; it ends at 08:00 BST = 07:00 UTC.
    pytest.param("Europe/London", NIGHT, utc(2026, 6, 10, 20, 59), utc(2026, 6, 11, 7, 0), id="summer-time"),
    # The same instant in three zones: 21:00 in Tokyo, 07:00 in New York, 13:00 in Berlin.
    pytest.param("Asia/Tokyo", NIGHT, utc(2026, 11, 26, 12, 0), utc(2026, 11, 26, 23, 0), id="tokyo"),
    pytest.param("America/New_York", NIGHT, utc(2026, 11, 26, 12, 0), utc(2026, 11, 26, 13, 0), id="new-york"),
    pytest.param("Europe/Berlin", NIGHT, utc(2026, 11, 26, 12, 0), None, id="berlin"),
    # Autumn: Berlin, Sat 24 Oct 2026 22:30 CEST (UTC+2), clocks back at 03:00: 08:00 CET is 07:00 UTC.
    pytest.param("Europe/Berlin", NIGHT, utc(2026, 10, 24, 20, 30), utc(2026, 10, 25, 7, 0), id="dst-autumn"),
    # Spring: New York, Sat 7 Mar 2026 23:00 EST (UTC-5), clocks forward at 02:00: 08:00 EDT is 12:00 UTC.
    pytest.param("America/New_York", NIGHT, utc(2026, 3, 8, 4, 0), utc(2026, 3, 8, 12, 0), id="dst-spring"),
    # A daytime period, not crossing midnight: [12:00, 13:30).
    pytest.param("UTC", LUNCH, utc(2026, 1, 1, 11, 59), None, id="day-before"),
    pytest.param("UTC", LUNCH, utc(2026, 1, 1, 12, 0), utc(2026, 1, 1, 13, 30), id="day-start"),
    pytest.param("UTC", LUNCH, utc(2026, 1, 1, 12, 15), utc(2026, 1, 1, 13, 30), id="day-inside"),
    pytest.param("UTC", LUNCH, utc(2026, 1, 1, 13, 30), None, id="day-end"),
    pytest.param("UTC", LUNCH, utc(2026, 1, 1, 23, 0), None, id="day-evening"),
    # start == end: no quiet hours at all (not 24 hours of them).
    pytest.param("UTC", (time(0, 0), time(0, 0)), utc(2026, 1, 1, 3, 0), None, id="empty-midnight"),
    pytest.param("Asia/Tokyo", (time(22, 0), time(22, 0)), utc(2026, 1, 1, 13, 0), None, id="empty-at-start"),
]


@pytest.mark.parametrize(("zone", "period", "now", "expected"), TABLE)
def test_quiet_until(zone: str, period: tuple[time, time], now: datetime, expected: datetime | None) -> None:
    end = quiet_until(QuietHours(*period, ZoneInfo(zone)), now)
    assert end == expected
    if end is not None:
        assert end.tzinfo is not None and end.utcoffset().total_seconds() == 0  # UTC, for the database
        assert end.astimezone(ZoneInfo(zone)).time() == period[1]  # the end is the wall-clock time, DST or not


def test_an_instant_given_in_another_zone_is_judged_in_the_shoppers_zone() -> None:
    tokyo_evening = datetime(2026, 11, 26, 7, 0, tzinfo=ZoneInfo("America/New_York"))  # 21:00 in Tokyo
    assert quiet_until(QuietHours(*NIGHT, ZoneInfo("Asia/Tokyo")), tokyo_evening) == utc(2026, 11, 26, 23, 0)
