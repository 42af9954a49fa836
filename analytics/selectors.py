"""Reads of the hourly rollups: the charts' series, failures by reason, the success rate, and what to filter by.

The charts read analytics_hourlyrollup only (a few thousand rows a day, whatever the traffic), never the raw
notifications, deliveries or attempts, so they trail the raw rows by the rollup horizon (see rollup.py). The pages
that must be exact to the minute (the admin index's success rate, a campaign's results) add the facts past the
watermarks from raw rows, found by time or, for a campaign's runs still sending, by campaign (below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics.models import RollupWatermark
from analytics.rollup import (  # the tables' names, as the rollup's SQL names them
    FAILED_ATTEMPT,
    HELD_BACK_OUTCOME,
    HELD_BACK_REASON,
    RUN,
    SOURCES,
    TAKEN_IN_RANGE,
    A,
    D,
    N,
    R,
    W,
    conversions,
    range_parameters,
)
from campaigns.models import Campaign
from campaigns.results import CampaignCounts
from config.partitions import taken_since_day_of_sql
from notifications.attempts import delivered_attempt
from providers.registry import PROVIDER_NAMES

Bucket = Literal["hour", "day"]
STEPS: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

# What each outcome counts (an outcome is one fact; "sent", "delivered" and "failed" are per device):
#   sent       an attempt handed to a provider (a delivery past its TTL is not: it fails as "expired")
#   delivered  an attempt the provider accepted
#   failed     a delivery given up on; reason: the provider's code, "token_invalid" or "expired"
#   reached    a notification's first delivered attempt (per shopper: campaign results' "delivered")
#   targeted   a notification written (campaign results' "targeted")
#   suppressed a notification held back by shopper protection; reason: its policy outcome
#   no_device  a notification whose shopper had no active device
#   opened     a notification the app reported opened
#   converted  a campaign notification whose shopper then did the campaign's conversion event
OUTCOMES = ("sent", "delivered", "failed", "reached", "targeted", "suppressed", "no_device", "opened", "converted")

SOURCE_NAMES = [source.name for source in SOURCES]


@dataclass(frozen=True)
class Filters:
    """Which rollups: [start, end) in UTC, and optionally one category, provider and campaign ("" / 0: all)."""

    start: datetime
    end: datetime
    category: str = ""
    provider: str = ""
    campaign_id: int = 0


def bucket_starts(start: datetime, end: datetime, bucket: Bucket) -> list[datetime]:
    """Every bucket in [start, end): its UTC start, the first one truncated to the bucket."""
    first = _truncate(start, bucket)
    step = STEPS[bucket]
    starts = []
    at = first
    while at < end:
        starts.append(at)
        at += step
    return starts


def series(outcomes: Sequence[str], filters: Filters, *, bucket: Bucket) -> dict[str, list[tuple[datetime, int]]]:
    """Per outcome, every bucket in [start, end) with its count (zeros included), from the rollups only."""
    grouped = _counts(outcomes, filters, bucket=bucket, by_variant=False)
    starts = bucket_starts(filters.start, filters.end, bucket)
    return {o: [(at, grouped.get(("", o, at), 0)) for at in starts] for o in outcomes}


def variant_series(
    outcomes: Sequence[str], filters: Filters, *, bucket: Bucket
) -> dict[str, dict[str, list[tuple[datetime, int]]]]:
    """A campaign's series per variant ("" for a campaign without variants), variants in name order."""
    grouped = _counts(outcomes, filters, bucket=bucket, by_variant=True)
    starts = bucket_starts(filters.start, filters.end, bucket)
    variants = sorted({variant for variant, _, _ in grouped})
    return {v: {o: [(at, grouped.get((v, o, at), 0)) for at in starts] for o in outcomes} for v in variants}


def failures_by_reason(filters: Filters) -> list[tuple[str, int]]:
    """Failed deliveries in [start, end) per reason, largest first (then by reason, for a stable order)."""
    where, params = _where(filters, ["failed"])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT reason, sum(count) FROM {R} WHERE {where} GROUP BY reason ORDER BY 2 DESC, 1",  # noqa: S608
            params,
        )
        return [(reason, int(n)) for reason, n in cursor.fetchall()]


def success_rate(
    series_delivered: Sequence[tuple[datetime, int]], series_failed: Sequence[tuple[datetime, int]]
) -> list[tuple[datetime, float | None]]:
    """Per bucket, delivered / (delivered + failed); None where nothing finished."""
    rates: list[tuple[datetime, float | None]] = []
    for (at, delivered), (_, failed) in zip(series_delivered, series_failed, strict=True):
        finished = delivered + failed
        rates.append((at, delivered / finished if finished else None))
    return rates


CHOICE_CAMPAIGNS = 500  # the newest campaigns: the filter's list stays short and its query bounded


def choices() -> dict[str, list]:
    """The categories, providers and campaigns [(id, name)] the charts can be filtered by.

    From the settings and the campaigns table, never a scan of the rollups (two years of them: a DISTINCT over
    them had cost every page view a sequential scan).
    """
    campaigns = list(Campaign.objects.order_by("-pk").values_list("pk", "name")[:CHOICE_CAMPAIGNS])
    return {
        "categories": sorted(settings.NOTIFICATION_CATEGORIES),
        "providers": sorted(PROVIDER_NAMES),
        "campaigns": campaigns,
    }


def _counts(
    outcomes: Sequence[str], filters: Filters, *, bucket: Bucket, by_variant: bool
) -> dict[tuple[str, str, datetime], int]:
    where, params = _where(filters, outcomes, bucket)
    variant = "variant" if by_variant else "''"
    # Buckets are UTC hours or days: date_trunc in UTC whatever the session's time zone.
    sql = f"""
        SELECT {variant}, outcome, date_trunc(%s, hour, 'UTC'), sum(count) FROM {R}
        WHERE {where} GROUP BY 1, 2, 3
    """  # noqa: S608 - only constants and the WHERE built by _where (placeholders) are formatted in
    with connection.cursor() as cursor:
        cursor.execute(sql, [bucket, *params])
        return {(v, o, at.astimezone(UTC)): int(n) for v, o, at, n in cursor.fetchall()}


def _where(filters: Filters, outcomes: Sequence[str], bucket: str = "hour") -> tuple[str, list[object]]:
    """The WHERE of a read: an hour range (served by analytics_rollup_outcome_hour), then the narrowing filters.

    The range starts at the start of the first bucket, so that the first bucket is counted whole.
    """
    clauses = ["outcome = ANY(%s)", "hour >= %s", "hour < %s"]
    params: list[object] = [list(outcomes), _truncate(filters.start, bucket), filters.end]
    for column, value in (("category", filters.category), ("provider", filters.provider)):
        if value:
            clauses.append(f"{column} = %s")
            params.append(value)
    if filters.campaign_id:
        clauses.append("campaign_id = %s")
        params.append(filters.campaign_id)
    return " AND ".join(clauses), params


def _truncate(at: datetime, bucket: str) -> datetime:
    at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if bucket == "day" else at


# --- A campaign's results (registered into campaigns.results by analytics.apps) ------------------------------

# Each source's watermark: the rollups hold exactly its facts up to it. They are read first and passed as values,
# so that the planner sees how recent "past the watermark" is (a few minutes: the time indexes) instead of planning
# for any value; `guard` then checks, in the statement's own snapshot, that no run has moved them since (a run moves
# its watermarks and adds its counts in one transaction), else the statement is run again (_read_with_marks).
# The facts past them are read from `marks` (since_*): the watermarks, or RAW_SLICE ago if they are older (the
# rollups behind after an outage), so that a page never reads more than RAW_SLICE of raw facts; it then says what
# it leaves out until the rollups catch up (CampaignCounts.missing).
_MARKS = f"""
marks AS (
    SELECT %(since_attempts)s::timestamptz AS attempts, %(since_targeted)s::timestamptz AS targeted,
           %(since_held_back)s::timestamptz AS held_back, %(since_opens)s::timestamptz AS opens,
           %(since_conversions)s::timestamptz AS conversions
), guard AS (
    SELECT count(*) = %(marked)s AND coalesce(bool_and(w.counted_until = CASE w.source
        WHEN 'attempts' THEN %(mark_attempts)s::timestamptz WHEN 'targeted' THEN %(mark_targeted)s::timestamptz
        WHEN 'held_back' THEN %(mark_held_back)s::timestamptz WHEN 'opens' THEN %(mark_opens)s::timestamptz
        WHEN 'conversions' THEN %(mark_conversions)s::timestamptz END), TRUE) AS unmoved
    FROM {W} AS w
)"""  # noqa: S608 - table name only
# Before a source's first run: nothing is rolled up, everything is past its (absent) watermark.
_NEVER = datetime.min.replace(tzinfo=UTC)
# The most of raw facts past the watermarks a page reads: they trail by the horizon and a run's interval (about
# 11 minutes) when the rollups keep up.
RAW_SLICE = timedelta(hours=1)


def _read_with_marks(sql: str, params: dict[str, object]) -> tuple[list[tuple], tuple[datetime, datetime] | None]:
    """Rows of `sql` (which selects `guard.unmoved` first, then its columns, at least one row), read against the
    watermarks as they are: again if a rollup run moved them in between (it runs once a minute, in about a second).
    Also the facts left out, (from, to), when a watermark is more than RAW_SLICE old; else None.
    """
    for _ in range(_READS):
        floor = timezone.now() - RAW_SLICE
        marks = dict(RollupWatermark.objects.values_list("source", "counted_until"))
        values = {f"mark_{source}": marks.get(source, _NEVER) for source in SOURCE_NAMES}
        # (Before a source's first run, all of its raw facts: the job runs within a minute of the first deploy.)
        since = {f"since_{s}": max(marks[s], floor) if s in marks else _NEVER for s in SOURCE_NAMES}
        with connection.cursor() as cursor:
            cursor.execute(sql, {**params, **values, **since, "marked": len(marks)})
            rows = cursor.fetchall()
        if rows[0][0]:
            oldest = min(marks.values(), default=floor)
            missing = (oldest, floor) if oldest < floor else None
            return [row[1:] for row in rows if row[1] is not None], missing
    raise RuntimeError(f"The rollups' watermarks moved during each of {_READS} reads.")


_READS = 5  # a run moves the watermarks once a minute: a second read all but never meets another


# --- The admin index's success rate: the rollups, and the attempts past their watermark ---------------------

# The rollups hold exactly the attempts up to the watermark; the attempts after it (the horizon and a run's
# interval, about 11 minutes) are counted raw. The watermark is passed as a value and checked in the statement's
# snapshot (_read_with_marks, below): a run committing in between can't make an attempt count twice or not at all,
# and the planner, knowing how recent the range is, reads each day's time index (a value it only learns when
# running made it read whole days' deliveries: 300 ms at 10,000,000 deliveries). At most RAW_SLICE of raw attempts,
# however far behind the rollups are (after an outage).
_SUCCESS = f"""
WITH {_MARKS}, rolled AS (
    SELECT coalesce(sum(count) FILTER (WHERE outcome = 'delivered' AND hour >= %(hour)s), 0) AS delivered_hour,
           coalesce(sum(count) FILTER (WHERE outcome = 'failed' AND hour >= %(hour)s), 0) AS failed_hour,
           coalesce(sum(count) FILTER (WHERE outcome = 'delivered'), 0) AS delivered_day,
           coalesce(sum(count) FILTER (WHERE outcome = 'failed'), 0) AS failed_day
    FROM {R} WHERE outcome IN ('delivered', 'failed') AND hour >= %(day)s
), recent AS (
    SELECT count(*) FILTER (WHERE a.outcome = 'delivered' AND a.sent_at >= %(hour)s) AS delivered_hour,
           count(*) FILTER (WHERE {FAILED_ATTEMPT} AND a.sent_at >= %(hour)s) AS failed_hour,
           count(*) FILTER (WHERE a.outcome = 'delivered') AS delivered_day,
           count(*) FILTER (WHERE {FAILED_ATTEMPT}) AS failed_day
    FROM {A} AS a WHERE a.sent_at > %(since_attempts)s AND a.sent_at >= %(day)s
      AND {TAKEN_IN_RANGE.format(id="a.id")}
)
SELECT guard.unmoved, rolled.delivered_hour + recent.delivered_hour, rolled.failed_hour + recent.failed_hour,
       rolled.delivered_day + recent.delivered_day, rolled.failed_day + recent.failed_day
FROM guard, rolled, recent
"""  # noqa: S608 - table names and constant SQL only


@dataclass(frozen=True)
class SuccessRate:
    window: str
    delivered: int
    finished: int  # delivered + failed (a dead token is a failure)
    # The rollups are catching up: what finished from this moment until RAW_SLICE ago is not counted yet.
    uncounted_since: datetime | None = None

    @property
    def percent(self) -> float | None:
        return round(100 * self.delivered / self.finished, 2) if self.finished else None


def success_rates(*, now: datetime | None = None) -> list[SuccessRate]:
    """Delivered out of finished deliveries since the start of the previous hour, and of the same hour yesterday.

    Whole UTC hours, as the rollups count them: "the last hour" is 60 to 120 minutes, and says since when.
    """
    now = now or timezone.now()
    hour = _truncate(now - timedelta(hours=1), "hour")
    day = _truncate(now - timedelta(days=1), "hour")
    [counts], _ = _read_with_marks(_SUCCESS, {"hour": hour, "day": day, **range_parameters(day, now)})
    delivered_hour, failed_hour, delivered_day, failed_day = (int(n) for n in counts)
    # The rollups behind by more than RAW_SLICE: the facts between their watermark and the slice are not counted yet.
    watermark = RollupWatermark.objects.filter(source="attempts").values_list("counted_until", flat=True).first()
    floor = now - RAW_SLICE
    behind = max(watermark or day, day) if (watermark is None or watermark < floor) and floor > day else None
    return [
        SuccessRate(f"last hour (since {hour:%H:%M} UTC)", delivered_hour, delivered_hour + failed_hour, behind),
        SuccessRate(f"last day (since {day:%H:%M} UTC yesterday)", delivered_day, delivered_day + failed_day, behind),
    ]


# A run writes notifications, verdicts and attempts only until it finishes (campaigns.progress finishes a run when
# nothing of it waits or is in flight), so a run finished before the watermarks has all of those rolled up; those
# of the runs still sending or finished since are counted from their own rows (notification_campaign, source_ref
# first), exactly as rollup.py counts them: a notification's first delivered attempt is the one counted. Opens and
# conversions come at any time after: those past their watermarks are found by time (the partial index on opened_at;
# the events received since, of the campaign's conversion type) for all the campaign's runs. So a campaign's page
# reads its own rows only while it sends and for the horizon after, and a run's results are exact at any age.
_CAMPAIGN_RUNS = f"""
runs AS (
    SELECT r.id::text AS ref, (r.finished_at IS NULL OR r.finished_at > least(m.targeted, m.held_back, m.attempts))
           AS live
    FROM {RUN} AS r CROSS JOIN marks AS m WHERE r.campaign_id = %(campaign)s
)"""  # noqa: S608 - table name only

# A notification's deliveries are in the days since its own (config.partitions): only those partitions are read.
DELIVERY_OF_N = taken_since_day_of_sql("d.id", "n.id")

_CAMPAIGN_COUNTS = f"""
WITH {_MARKS}, {_CAMPAIGN_RUNS}, counted (variant, outcome, reason, n) AS (
    SELECT variant, outcome, reason, sum(count) FROM {R}
    WHERE campaign_id = %(campaign)s
      AND outcome IN ('targeted', 'reached', 'opened', 'converted', 'suppressed', 'no_device')
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT n.variant, o.outcome, o.reason, count(*)
    FROM {N} AS n CROSS JOIN marks AS m
    CROSS JOIN LATERAL (
        SELECT 'targeted', '' WHERE n.created_at > m.targeted
        UNION ALL SELECT {HELD_BACK_OUTCOME}, {HELD_BACK_REASON}
            WHERE n.status IN ('suppressed', 'no_device') AND n.updated_at > m.held_back
        UNION ALL SELECT 'reached', '' FROM (
            SELECT a.sent_at FROM {D} AS d CROSS JOIN {delivered_attempt("d")} AS a
            WHERE d.notification_id = n.id AND d.status = 'delivered' AND {DELIVERY_OF_N}
            ORDER BY a.sent_at, a.id LIMIT 1
        ) AS f
        -- Attempts are looked up only for a notification delivered since the mark (a delivery's delivered
        -- updated_at >= sent_at).
        WHERE n.status = 'sending' AND f.sent_at > m.attempts AND EXISTS (
            SELECT 1 FROM {D} AS d WHERE d.notification_id = n.id AND d.status = 'delivered'
              AND d.updated_at > m.attempts AND {DELIVERY_OF_N}
        )
    ) AS o(outcome, reason)
    WHERE n.source = 'campaign' AND n.source_ref IN (SELECT ref FROM runs WHERE live)
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT n.variant, 'opened', '', count(*) FROM {N} AS n
    WHERE n.opened_at > %(since_opens)s AND n.source = 'campaign' AND n.source_ref = ANY(%(refs)s)
    GROUP BY 1
    UNION ALL
    SELECT variant, 'converted', '', count(*)
    FROM ({conversions("e.received_at > %(since_conversions)s AND e.type = %(event)s", "n.source_ref = ANY(%(refs)s)")})
        AS converted
    WHERE campaign_id = %(campaign)s
    GROUP BY 1
)
SELECT guard.unmoved, c.* FROM guard LEFT JOIN (
    SELECT variant, outcome, reason, sum(n) FROM counted GROUP BY 1, 2, 3
) AS c ON TRUE
"""  # noqa: S608 - table names and constant SQL only

# Delivered pushes (per device) and opens per bucket: the rollups' hours from the first bucket on, and the facts
# past the watermarks as above.
_CAMPAIGN_TIMELINE = f"""
WITH {_MARKS}, {_CAMPAIGN_RUNS}, counted (at, delivered, opened) AS (
    SELECT date_trunc(%(unit)s, hour, 'UTC'), coalesce(sum(count) FILTER (WHERE outcome = 'delivered'), 0),
           coalesce(sum(count) FILTER (WHERE outcome = 'opened'), 0)
    FROM {R} WHERE campaign_id = %(campaign)s AND outcome IN ('delivered', 'opened') AND hour >= %(start)s
    GROUP BY 1
    UNION ALL
    SELECT date_trunc(%(unit)s, a.sent_at, 'UTC'), count(*), 0
    FROM {N} AS n CROSS JOIN marks AS m
    JOIN {D} AS d ON d.notification_id = n.id AND d.status = 'delivered' AND d.updated_at > m.attempts
        AND {DELIVERY_OF_N}
    CROSS JOIN {delivered_attempt("d")} AS a
    WHERE n.source = 'campaign' AND n.source_ref IN (SELECT ref FROM runs WHERE live)
      AND a.sent_at > m.attempts AND a.sent_at >= %(start)s
    GROUP BY 1
    UNION ALL
    SELECT date_trunc(%(unit)s, n.opened_at, 'UTC'), 0, count(*) FROM {N} AS n
    WHERE n.opened_at > %(since_opens)s AND n.opened_at >= %(start)s
      AND n.source = 'campaign' AND n.source_ref = ANY(%(refs)s)
    GROUP BY 1
)
SELECT guard.unmoved, c.* FROM guard LEFT JOIN (
    SELECT at, sum(delivered), sum(opened) FROM counted GROUP BY 1
) AS c ON TRUE
"""  # noqa: S608 - table names and constant SQL only


def campaign_counts(campaign: Campaign) -> CampaignCounts:
    """Per variant: targeted, delivered (shoppers reached), opened, converted; and held back per reason."""
    params = {
        "campaign": campaign.pk,
        "refs": _refs(campaign),
        "event": campaign.conversion_event,
        # conversions()' bounds, for this campaign's notifications only (the rows of the others are not kept)
        "conversion_events": [campaign.conversion_event],
        "longest_window": campaign.conversion_window,
    }
    rows, missing = _read_with_marks(_CAMPAIGN_COUNTS, params)
    columns = {"targeted": 0, "reached": 1, "opened": 2, "converted": 3}
    variants: dict[str, list[int]] = {}
    held_back: dict[str, int] = {}
    for variant, outcome, reason, n in rows:
        if outcome in columns:
            variants.setdefault(variant, [0, 0, 0, 0])[columns[outcome]] += int(n)
        else:
            key = "no_device" if outcome == "no_device" else reason
            held_back[key] = held_back.get(key, 0) + int(n)
    return CampaignCounts({v: (c[0], c[1], c[2], c[3]) for v, c in variants.items()}, held_back, missing)


def campaign_timeline(campaign: Campaign, *, unit: str, start: datetime) -> dict[datetime, tuple[int, int]]:
    """Delivered pushes and opens per hour or day bucket from `start`'s bucket on: {bucket start: (n, n)}."""
    params = {"campaign": campaign.pk, "refs": _refs(campaign), "unit": unit, "start": _truncate(start, unit)}
    rows, _ = _read_with_marks(_CAMPAIGN_TIMELINE, params)  # what it leaves out: said with the counts
    return {at.astimezone(UTC): (int(d), int(o)) for at, d, o in rows}


def _refs(campaign: Campaign) -> list[str]:
    # As values, not a join: the planner then knows how many rows the campaign has, and finds its opens since the
    # watermark by time (a few) rather than by campaign (all of its rows).
    return [str(pk) for pk in campaign.runs.values_list("pk", flat=True)]
