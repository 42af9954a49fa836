"""Maintaining the hourly rollups: a beat job counts the facts written since its last run, once.

Nothing is added to the engine's path: a per-batch upsert would make every worker sending the same campaign
wait on the same few rollup rows. Instead, every ANALYTICS_ROLLUP_INTERVAL_SECONDS, one transaction:
  lock the watermarks (one row per source, FOR UPDATE: a second run waits, then starts from the moved marks);
  per source, count the facts with a timestamp in (watermark, horizon], grouped by hour and dimensions;
  INSERT … ON CONFLICT (dimensions) DO UPDATE SET count = count + excluded.count;
  move the watermarks to the horizon; commit.
A crash anywhere rolls back the counts with the watermarks, so the next run counts the same facts once.

The horizon (now - ANALYTICS_ROLLUP_HORIZON_SECONDS, 600 s). Ids and timestamps are taken before a transaction
commits, so a fact can become visible after newer ones: a watermark on ids, or on timestamps up to now, would step
over a row committed late and never count it. A fact's timestamp is taken inside the transaction that writes it,
and no such transaction lasts 600 s: the longest holds a batch while its pushes go out, bounded by the push
timeouts (PUSH_TIMEOUT_SECONDS, 10 s) plus its writes, and the sweep takes over work left longer than
DELIVERY_STUCK_AFTER_SECONDS (120 s). So every fact up to the horizon has committed (or never will) when it is
counted, and clocks a few seconds apart between the workers and this job don't matter either. Because the range
is closed at the horizon and every fact of that instant is visible, no id is needed to break ties. What a late
row would cost: a fact committed more than 600 s after its timestamp is never counted (the watermark has passed
it); it is never counted twice. The rollups trail the raw rows by the horizon; the pages that must show the last
minutes add those from the raw rows (analytics.selectors).

The sources, each an append-only fact with a timestamp that never changes once the fact exists:
  attempts     the attempt log's sent_at (notifications.attempts: the attempt rows, only ever inserted, and each
               first-try success's delivery at its updated_at, final once it is delivered): sent, delivered,
               failed, reached
  targeted     Notification.created_at: a notification written
  held_back    Notification.updated_at of rows in `suppressed` or `no_device`: those states are final (no
               write moves a notification out of them, nor touches its updated_at again), so the timestamp of
               the verdict is final too and the row is counted once, by the run whose range holds it
  opens        Notification.opened_at: set once, by the first open reported (a later one keeps it)
  conversions  Event.received_at: a campaign's conversion event converts the notifications it is the first to
               convert (see _CONVERSIONS)
Failures come from the attempts, not from FailedDelivery: that record is rewritten in place when a requeued
delivery fails again (the same row, a new created_at), so a failure requeued within the horizon would be lost.
An attempt records the engine's decision exactly: `permanent` (including `expired`, a delivery past its TTL,
which is not sent), `token_invalid`, or `retry` with no attempt left (settling.settle).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from analytics.models import HourlyRollup, RollupWatermark
from campaigns.models import Campaign, CampaignRun
from config.partitions import ids_around, taken_before_day_after_sql, taken_in_days_sql, taken_since_day_of_sql
from events.models import Event
from notifications.attempts import ATTEMPT_LOG, delivered_attempt
from notifications.models import Delivery, Notification, NotificationContent
from providers.base import MAX_TTL_SECONDS

logger = logging.getLogger(__name__)

A = ATTEMPT_LOG  # a relation: read as "{A} AS a"
D = Delivery._meta.db_table
N = Notification._meta.db_table
NC = NotificationContent._meta.db_table
E = Event._meta.db_table
RUN = CampaignRun._meta.db_table
C = Campaign._meta.db_table
R = HourlyRollup._meta.db_table
W = RollupWatermark._meta.db_table

# A campaign's notifications carry their run's id in source_ref (text): the run gives the campaign. The CASE
# keeps the cast from ever seeing another source's reference.
RUN_OF_N = "CASE WHEN n.source = 'campaign' AND n.source_ref ~ '^[0-9]{1,18}$' THEN n.source_ref::bigint END"
CAMPAIGN_OF_N = f"LEFT JOIN {RUN} AS r ON r.id = {RUN_OF_N}"
# The template's key is the content's (a campaign's shoppers share one content row per variant and batch).
CONTENT_OF_N = f"JOIN {NC} AS nc ON nc.id = n.content_id"

# An attempt that ended its delivery as failed, and the reason counted (shared with the raw reads of the last
# minutes in analytics.selectors, so that both classify an attempt alike). %(max_attempts)s: the engine's limit.
FAILED_ATTEMPT = (
    "(a.outcome IN ('permanent', 'token_invalid') OR (a.outcome = 'retry' AND a.number >= %(max_attempts)s))"
)
FAILED_REASON = (
    "CASE WHEN a.outcome = 'token_invalid' THEN 'token_invalid'"
    " ELSE coalesce(nullif(a.provider_code, ''), 'unknown') END"
)
SENT_ATTEMPT = "NOT (a.outcome = 'permanent' AND a.provider_code = 'expired')"  # expired: never handed over
# The notification's first delivered attempt, in the order the watermark moves in: every attempt before it has
# committed when it is counted, so exactly one attempt per notification is its first, whichever run sees it.
FIRST_DELIVERED = f"""NOT EXISTS (
    SELECT 1 FROM {D} AS d2 CROSS JOIN {delivered_attempt("d2")} AS a2
    WHERE d2.notification_id = d.notification_id AND d2.status = 'delivered'
      AND {taken_since_day_of_sql("d2.id", "d.notification_id")} AND {taken_before_day_after_sql("d2.id", "a.sent_at")}
      AND (a2.sent_at, a2.id) < (a.sent_at, a.id)
)"""  # noqa: S608 - table names only
HELD_BACK_OUTCOME = "CASE WHEN n.status = 'no_device' THEN 'no_device' ELSE 'suppressed' END"
HELD_BACK_REASON = "CASE WHEN n.status = 'no_device' THEN '' ELSE coalesce(nullif(n.policy, ''), 'unknown') END"

# The facts of (since, until] have ids taken within ids_around() of it (for the attempt log's first-try successes,
# whose ids are their deliveries' negated, this holds whatever their day: a delivery can wait for its first attempt
# as long as its TTL). A notification's id is taken before it is written, sent, held back or opened (a campaign
# batch's ids when its page is fanned out, maybe days before it is sent): only the upper bound holds for those.
TAKEN_IN_RANGE = taken_in_days_sql("{id}", "%(ids_since)s", "%(ids_until)s")
TAKEN_BY_UNTIL = "n.id < %(ids_until)s"

# Every count below selects: hour, category, provider, campaign_id, variant, template_key, outcome, reason, count,
# for the facts with %(since)s < timestamp <= %(until)s. Hours are UTC hours whatever the session's time zone.
_ATTEMPTS = f"""
SELECT date_trunc('hour', a.sent_at, 'UTC'), n.category, o.provider, coalesce(r.campaign_id, 0), n.variant,
       nc.template_key, o.outcome, o.reason, count(*)
FROM {A} AS a
JOIN {D} AS d ON d.id = a.delivery_id
JOIN {N} AS n ON n.id = d.notification_id
{CONTENT_OF_N} {CAMPAIGN_OF_N}
CROSS JOIN LATERAL (
    SELECT 'sent', '', d.provider WHERE {SENT_ATTEMPT}
    UNION ALL SELECT 'delivered', '', d.provider WHERE a.outcome = 'delivered'
    UNION ALL SELECT 'failed', {FAILED_REASON}, d.provider WHERE {FAILED_ATTEMPT}
    UNION ALL SELECT 'reached', '', '' WHERE a.outcome = 'delivered' AND {FIRST_DELIVERED}
) AS o(outcome, reason, provider)
WHERE a.sent_at > %(since)s AND a.sent_at <= %(until)s AND {TAKEN_IN_RANGE.format(id="a.id")}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""  # noqa: S608 - table names and constant SQL only

_TARGETED = f"""
SELECT date_trunc('hour', n.created_at, 'UTC'), n.category, '', coalesce(r.campaign_id, 0), n.variant,
       nc.template_key, 'targeted', '', count(*)
FROM {N} AS n {CONTENT_OF_N} {CAMPAIGN_OF_N}
WHERE n.created_at > %(since)s AND n.created_at <= %(until)s AND {TAKEN_BY_UNTIL}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""  # noqa: S608

# Read through analytics_notification_held_back (migration 0002): partial, on exactly this predicate.
_HELD_BACK = f"""
SELECT date_trunc('hour', n.updated_at, 'UTC'), n.category, '', coalesce(r.campaign_id, 0), n.variant,
       nc.template_key, {HELD_BACK_OUTCOME}, {HELD_BACK_REASON}, count(*)
FROM {N} AS n {CONTENT_OF_N} {CAMPAIGN_OF_N}
WHERE n.status IN ('suppressed', 'no_device') AND n.updated_at > %(since)s AND n.updated_at <= %(until)s
  AND {TAKEN_BY_UNTIL}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""  # noqa: S608

_OPENS = f"""
SELECT date_trunc('hour', n.opened_at, 'UTC'), n.category, '', coalesce(r.campaign_id, 0), n.variant,
       nc.template_key, 'opened', '', count(*)
FROM {N} AS n {CONTENT_OF_N} {CAMPAIGN_OF_N}
WHERE n.opened_at > %(since)s AND n.opened_at <= %(until)s AND {TAKEN_BY_UNTIL}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""  # noqa: S608


# A conversion as campaigns.results defines it: a campaign notification delivered, and its shopper's event of the
# campaign's conversion type occurring within the campaign's window from the first delivery. Counted once per
# notification, by the first such event in (received_at, id) order, at the hour it was received: every event
# before it in that order has committed when it is counted, so whichever run sees an event agrees on whether it
# was the first. (Hourly by receipt, not by occurred_at, so that each rollup hour holds exactly the facts up to
# the watermark: a producer's clock can put occurred_at anywhere.) Only events of a type some campaign converts on
# are looked at, found by their receipt time (event_received: the type's own index would read every checkout of
# the history); each looks at its shopper's campaign notifications that could have been first delivered within
# the window before it, and only those are looked up in deliveries:
#   - written before the event: a delivery comes after its notification was written (SLACK: the clocks of the
#     database, which stamps created_at, and of the workers, which stamp delivered_at, may be apart);
#   - not expired before the window opened: a delivery is handed to a provider only while its notification's TTL
#     runs (notifications.settling), counted from its due time (send_at, else created_at; a deferral moves both
#     send_at and the TTL left, so their sum stays), and delivered_at is stamped when the provider answers;
#   - written at most LOOKBACK before the window opened: due is at most 26 hours after created_at (a campaign's
#     local-time send: the run starts when UTC+14 reaches the time, UTC-12 is 26 hours later) and a TTL at most
#     providers.base.MAX_TTL_SECONDS. So however long a shopper's history, an event reads about a month of it
#     (an index on the notifications' (user_id, created_at) serves this range; notification_user the user alone).
SLACK = "interval '1 hour'"
LOOKBACK = f"interval '{MAX_TTL_SECONDS} seconds' + interval '2 days'"
# A notification's TTL is its content's, or what a deferral left it (ttl_left_seconds): read with CONTENT_OF_N.
EXPIRES_OF_N = "coalesce(n.send_at, n.created_at) + coalesce(n.ttl_left_seconds, nc.ttl_seconds) * interval '1 second'"


def conversions(events: str, notifications: str = "TRUE") -> str:
    """The conversions made by the events matching `events` (SQL on `e`) of the notifications matching
    `notifications` (SQL on `n`; one campaign's: by its runs, so that notification_campaign finds them): one row
    per notification converted, with its received_at, category, campaign_id, variant and template_key. Shared
    with analytics.selectors; its
    parameters are conversion_parameters()'s (values, not subqueries: the planner then knows how few events and
    notifications a range holds, and bounds the notifications' index scan by them)."""
    return f"""
    SELECT ev.received_at, n.category, c.id AS campaign_id, n.variant, nc.template_key
    FROM (
        SELECT e.id, e.user_id, e.type, e.occurred_at, e.received_at FROM {E} AS e
        WHERE {events} AND e.type = ANY(%(conversion_events)s)
    ) AS ev
    JOIN {N} AS n ON n.user_id = ev.user_id AND n.source = 'campaign' AND n.status = 'sending'
        AND n.created_at <= ev.occurred_at + {SLACK}
        AND n.created_at > ev.occurred_at - %(longest_window)s - {LOOKBACK}
        AND {taken_before_day_after_sql("n.id", f"ev.occurred_at + {SLACK}")}
        AND {notifications}
    JOIN {RUN} AS r ON r.id = {RUN_OF_N}
    JOIN {C} AS c ON c.id = r.campaign_id AND c.conversion_event = ev.type
    {CONTENT_OF_N} AND {EXPIRES_OF_N} + {SLACK} > ev.occurred_at - %(longest_window)s
    CROSS JOIN LATERAL (
        SELECT min(d.updated_at) AS at FROM {D} AS d
        WHERE d.notification_id = n.id AND d.status = 'delivered' AND {taken_since_day_of_sql("d.id", "n.id")}
    ) AS fd
    WHERE ev.occurred_at >= fd.at AND ev.occurred_at < fd.at + c.conversion_window
      AND NOT EXISTS (
          SELECT 1 FROM {E} AS e2
          WHERE e2.user_id = ev.user_id AND e2.type = ev.type
            AND e2.occurred_at >= fd.at AND e2.occurred_at < fd.at + c.conversion_window
            AND (e2.received_at, e2.id) < (ev.received_at, ev.id)
            AND {taken_before_day_after_sql("e2.id", "ev.received_at")}
      )
    """  # noqa: S608 - table names and the caller's constant SQL only


def conversion_parameters() -> dict[str, object]:
    """The event types campaigns convert on, and their longest conversion window (conversions()' parameters)."""
    types = Campaign.objects.order_by("conversion_event").values_list("conversion_event", flat=True).distinct()
    longest = Campaign.objects.aggregate(longest=Max("conversion_window"))["longest"]
    return {"conversion_events": list(types), "longest_window": longest or timedelta(0)}


_CONVERSIONS = f"""
SELECT date_trunc('hour', received_at, 'UTC'), category, '', campaign_id, variant, template_key, 'converted', '',
       count(*)
FROM ({conversions(f"e.received_at > %(since)s AND e.received_at <= %(until)s AND {TAKEN_IN_RANGE.format(id='e.id')}")})
    AS converted
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""  # noqa: S608

# Where a source's first watermark goes: before its oldest fact (so that a database with history has it rolled up,
# ANALYTICS_ROLLUP_MAX_SPAN_SECONDS a run), found by an index. Attempts, verdicts and opens all come after their
# notification was written; the margin covers clocks apart between the database and the workers.
_OLDEST_NOTIFICATION = f"SELECT min(created_at) FROM {N}"  # noqa: S608
_OLDEST_EVENT = f"SELECT min(received_at) FROM {E}"  # noqa: S608


@dataclass(frozen=True)
class Source:
    name: str
    count_sql: str
    oldest_sql: str
    # Each fact looks its delivery, notification and content up by id: one partition's index, found when running.
    # PostgreSQL 15 prices such a lookup as a probe of every partition, so it hashes or merges whole tables
    # instead; counting by lookups only was 5 to 13 times faster at 10,000,000 deliveries (an hour's attempts
    # 3.9 s -> 0.7 s, a day's opens 0.72 s -> 0.05 s). Conversions look up a shopper's notifications over a month,
    # where the planner's choice is the faster (0.6 s an hour, 1.0 s by lookups).
    by_lookups: bool = True


SOURCES = (
    Source("attempts", _ATTEMPTS, _OLDEST_NOTIFICATION),
    Source("targeted", _TARGETED, _OLDEST_NOTIFICATION),
    Source("held_back", _HELD_BACK, _OLDEST_NOTIFICATION),
    Source("opens", _OPENS, _OLDEST_NOTIFICATION),
    Source("conversions", _CONVERSIONS, _OLDEST_EVENT, by_lookups=False),
)

_DIMENSIONS = "hour, category, provider, campaign_id, variant, template_key, outcome, reason"
# The counts of one source for one range, added to the rollups; returns how many facts were counted.
_UPSERT = f"""
WITH counted ({_DIMENSIONS}, count) AS ({{select}}),
added AS (
    INSERT INTO {R} AS t ({_DIMENSIONS}, count) SELECT * FROM counted
    ON CONFLICT ({_DIMENSIONS}) DO UPDATE SET count = t.count + excluded.count
)
SELECT coalesce(sum(count), 0) FROM counted
"""  # noqa: S608 - table and column names only


def horizon(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.ANALYTICS_ROLLUP_HORIZON_SECONDS)


def roll_up(*, now: datetime | None = None) -> dict[str, int]:
    """One run: each source's facts since its watermark up to the horizon, counted in one transaction.

    Returns the facts counted per source, and "behind": 1 if a source stopped short of the horizon (a run takes
    at most ANALYTICS_ROLLUP_MAX_SPAN_SECONDS of a source, so that catching up after an outage or on a database
    with history is done in bounded transactions).
    """
    until_horizon = horizon(now or timezone.now())
    span = timedelta(seconds=settings.ANALYTICS_ROLLUP_MAX_SPAN_SECONDS)
    counted: dict[str, int] = {}
    behind = 0
    with transaction.atomic():
        marks = _lock_watermarks(until_horizon)
        moved: dict[str, datetime] = {}
        for source in SOURCES:
            since = marks[source.name]
            until = min(until_horizon, since + span)
            if until <= since:
                continue
            counted[source.name] = _count(source, since, until)
            moved[source.name] = until
            behind |= until < until_horizon
        _move_watermarks(moved)
    return {**counted, "behind": int(behind)}


def catch_up(*, budget_seconds: float | None = None) -> dict[str, int]:
    """The beat task: runs until every source reaches the horizon, or the budget (half an interval) is spent."""
    budget = settings.ANALYTICS_ROLLUP_INTERVAL_SECONDS / 2 if budget_seconds is None else budget_seconds
    started = time.monotonic()
    totals: dict[str, int] = {}
    while True:
        result = roll_up()
        for name, n in result.items():
            if name != "behind":
                totals[name] = totals.get(name, 0) + n
        if not result["behind"] or time.monotonic() - started > budget:
            if result["behind"]:
                marks = dict(RollupWatermark.objects.values_list("source", "counted_until"))
                logger.info("Rollups catching up, counted up to %s", {k: v.isoformat() for k, v in marks.items()})
            totals["behind"] = result["behind"]
            return totals


def forget_old_rollups(*, now: datetime | None = None) -> int:
    """Rollups older than ANALYTICS_ROLLUP_RETENTION_DAYS are deleted (served by the unique index, hour first)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ANALYTICS_ROLLUP_RETENTION_DAYS)
    deleted, _ = HourlyRollup.objects.filter(hour__lt=cutoff).delete()
    return deleted


def _lock_watermarks(until_horizon: datetime) -> dict[str, datetime]:
    names = [source.name for source in SOURCES]
    marks = _select_for_update(names)
    missing = [source for source in SOURCES if source.name not in marks]
    if missing:
        # A first run (or a new source): concurrent first runs both insert, one does nothing, and the lock below
        # makes the second wait for the first's commit.
        margin = timedelta(seconds=settings.ANALYTICS_ROLLUP_HORIZON_SECONDS)
        rows = []
        with connection.cursor() as cursor:
            for source in missing:
                cursor.execute(source.oldest_sql)
                oldest = cursor.fetchone()[0]
                rows.append((source.name, min(oldest - margin, until_horizon) if oldest else until_horizon))
            cursor.executemany(
                f"INSERT INTO {W} (source, counted_until, updated_at) VALUES (%s, %s, now()) "  # noqa: S608
                "ON CONFLICT (source) DO NOTHING",
                rows,
            )
        marks = _select_for_update(names)
    return marks


def _select_for_update(names: list[str]) -> dict[str, datetime]:
    # In name order: two runs lock the rows in the same order, so they queue instead of deadlocking.
    rows = (
        RollupWatermark.objects.select_for_update()
        .filter(source__in=names)
        .order_by("source")
        .values_list("source", "counted_until")
    )
    return dict(rows)


def range_parameters(since: datetime, until: datetime) -> dict[str, object]:
    """The parameters of the attempts read for facts of (since, until]: TAKEN_IN_RANGE's ids, FAILED_ATTEMPT's limit."""
    ids_since, ids_until = ids_around(since, until)
    return {"ids_since": ids_since, "ids_until": ids_until, "max_attempts": settings.DELIVERY_MAX_ATTEMPTS}


def _count(source: Source, since: datetime, until: datetime) -> int:
    params = {"since": since, "until": until, **range_parameters(since, until)}
    if source.name == "conversions":
        params.update(conversion_parameters())
    with connection.cursor() as cursor:
        joins = "off" if source.by_lookups else "on"  # see Source.by_lookups; until the next count or the commit
        cursor.execute(f"SET LOCAL enable_hashjoin = {joins}")
        cursor.execute(f"SET LOCAL enable_mergejoin = {joins}")
        cursor.execute(_UPSERT.format(select=source.count_sql), params)
        return int(cursor.fetchone()[0])


def _move_watermarks(moved: dict[str, datetime]) -> None:
    for name, until in moved.items():
        RollupWatermark.objects.filter(source=name).update(counted_until=until, updated_at=timezone.now())
