"""A campaign's results per variant: delivery, open and conversion rates, and whether the leader really leads.

The counts come from analytics' hourly rollups (and what they don't hold yet, read by time or from the rows of
the runs still sending): reading a campaign's raw rows cost seconds for a large one, and they are deleted long
before the rollups. analytics sits above campaigns in the layers (it reads campaigns, notifications and events),
so it registers its reader here when it loads (analytics.apps), as config.observability's collectors are
registered. Only the chart's minutes, in a campaign's first hours, are counted from its rows here: the rollups
have no minutes. Pages read the results counted last, kept a few seconds in the cache (live_results).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Min
from django.utils import timezone

from campaigns.models import Campaign
from notifications.models import Delivery, Notification
from protection.outcomes import PolicyOutcome

N = Notification._meta.db_table
D = Delivery._meta.db_table


@dataclass(frozen=True)
class CampaignCounts:
    """What the rollups say of a campaign: per variant ("" without variants) targeted, delivered (shoppers
    reached), opened, converted; and the notifications held back per reason ("no_device" for no device)."""

    variants: dict[str, tuple[int, int, int, int]]
    held_back: dict[str, int]
    # The rollups behind (after an outage): the facts between these instants are not counted until they catch up.
    missing: tuple[datetime, datetime] | None = None


class RollupReader(Protocol):
    """analytics.selectors, as analytics.apps registers it."""

    def campaign_counts(self, campaign: Campaign) -> CampaignCounts: ...

    def campaign_timeline(
        self, campaign: Campaign, *, unit: str, start: datetime
    ) -> dict[datetime, tuple[int, int]]: ...


_reader: RollupReader | None = None


def read_rollups_with(reader: RollupReader) -> None:
    global _reader  # set once, when analytics loads
    _reader = reader


def _rollups() -> RollupReader:
    if _reader is None:
        raise ImproperlyConfigured("Campaign results are read from analytics' rollups: install the analytics app.")
    return _reader


@dataclass(frozen=True)
class VariantResult:
    name: str
    targeted: int
    delivered: int
    opened: int
    converted: int

    @property
    def delivery_rate(self) -> float:
        return self.delivered / self.targeted if self.targeted else 0.0

    @property
    def open_rate(self) -> float:
        return self.opened / self.delivered if self.delivered else 0.0

    @property
    def conversion_rate(self) -> float:
        return self.converted / self.delivered if self.delivered else 0.0


@dataclass(frozen=True)
class Comparison:
    metric: str  # "conversion" or "open"
    leader: str
    runner_up: str
    difference: float  # in rate points
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


@dataclass(frozen=True)
class Results:
    variants: list[VariantResult]
    held_back: dict[str, int]  # shopper protection's reasons, and "no_device"
    comparison: Comparison | None
    variant_names: list[str] = field(default_factory=list)  # the campaign's A/B variants; empty: one template
    missing: tuple[datetime, datetime] | None = None  # see CampaignCounts


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the two-proportion z-test (pooled); 1.0 when it can't be computed."""
    if not n1 or not n2:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / spread
    return math.erfc(abs(z) / math.sqrt(2))


def results(campaign: Campaign) -> Results:
    counted = _rollups().campaign_counts(campaign)
    variants = [VariantResult(name or "all", *counts) for name, counts in sorted(counted.variants.items())]
    held_back = {reason: n for reason, n in counted.held_back.items() if n}
    names = list(campaign.variants.values_list("name", flat=True))
    return Results(variants, held_back, compare(variants), names, counted.missing)


def compare(variants: list[VariantResult]) -> Comparison | None:
    """The leader on conversions (or on opens, while nobody has converted) against the runner-up."""
    if len(variants) < 2:
        return None
    metric = "conversion" if any(v.converted for v in variants) else "open"
    count = (lambda v: v.converted) if metric == "conversion" else (lambda v: v.opened)
    rate = (lambda v: v.conversion_rate) if metric == "conversion" else (lambda v: v.open_rate)
    leader, runner_up = sorted(variants, key=rate, reverse=True)[:2]
    return Comparison(
        metric=metric,
        leader=leader.name,
        runner_up=runner_up.name,
        difference=rate(leader) - rate(runner_up),
        p_value=two_proportion_p_value(count(leader), leader.delivered, count(runner_up), runner_up.delivered),
    )


# Below this many delivered pushes in a variant, its rate moves by points with every open: a "leader" then is
# noise, and the z-test's normal approximation does not hold either. 30 is the usual rule of thumb.
MIN_DELIVERED_TO_COMPARE = 30


def verdict(found: Results) -> str:
    """The significance line, in words: who leads and whether it means anything, or why nothing can be said yet."""
    if not found.variant_names:
        return "This campaign sends one template to everyone: there are no A/B variants to compare."
    sent = [v for v in found.variants if v.delivered]
    if not sent:
        return "Not enough data yet to compare variants (nothing has been delivered yet)."
    if len(sent) < 2:
        return f"Not enough data yet to compare variants (only {sent[0].name} has been delivered so far)."
    short = [v for v in found.variants if v.delivered < MIN_DELIVERED_TO_COMPARE]
    if short:
        so_far = ", ".join(f"{v.name} has {v.delivered:,}" for v in short)
        return (
            "Not enough data yet to compare variants "
            f"(each needs at least {MIN_DELIVERED_TO_COMPARE} delivered; {so_far} so far)."
        )
    c = found.comparison
    if c is None or (c.metric == "open" and not any(v.opened for v in found.variants)):
        # (compare() goes by conversions as soon as there is one, by opens until then)
        return "Not enough data yet to compare variants (nobody has opened one yet)."
    points = f"{c.difference * 100:.1f}"
    if points == "0.0":  # a tie at the precision shown: nobody "leads by 0.0 points"
        return f"{c.leader} and {c.runner_up} are level on {c.metric} rate so far."
    significance = "a significant difference" if c.significant else "not significant yet"
    return (
        f"{c.leader} leads on {c.metric} rate by {points} points over {c.runner_up}: "
        f"{significance} (p = {c.p_value:.3f})."
    )


def behind(found: Results) -> str:
    """What the results leave out while the rollups catch up (after an outage), in words; "" when nothing."""
    if found.missing is None:
        return ""
    start, end = (at.astimezone(UTC) for at in found.missing)
    return (
        f"The hourly counts are catching up: what happened from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC "
        "is not counted here yet."
    )


@dataclass(frozen=True)
class Timeline:
    """Deliveries and opens per bucket since the campaign's first run started (buckets with none are zeros)."""

    unit: str  # "minute", "hour" or "day"
    starts: list[datetime]
    delivered: list[int]
    opened: list[int]


# Per minute for the first 6 hours after launch, per hour up to 15 days, per day after: never more than
# MAX_BUCKETS points, whatever the campaign's age (a recurring one's chart then shows its last MAX_BUCKETS days).
MAX_BUCKETS = 360
UNITS = [("minute", timedelta(minutes=1)), ("hour", timedelta(hours=1)), ("day", timedelta(days=1))]

# Per minute (a campaign's first MAX_BUCKETS minutes), both series are counted over the campaign's own rows, which
# are then at most that old: its notifications through notification_campaign (source_ref first), their deliveries
# through delivery_notification (notification first). Per hour or day they come from the rollups.
_MINUTES = f"""
WITH buckets AS (
    SELECT generate_series(date_trunc(%(unit)s, %(start)s), date_trunc(%(unit)s, %(end)s), %(step)s) AS at
), delivered AS (
    SELECT date_trunc(%(unit)s, d.updated_at) AS at, count(*) AS n
    FROM {N} AS n JOIN {D} AS d ON d.notification_id = n.id
    WHERE n.source = 'campaign' AND n.source_ref = ANY(%(refs)s)
      AND d.status = 'delivered' AND d.updated_at >= date_trunc(%(unit)s, %(start)s)
    GROUP BY 1
), opened AS (
    SELECT date_trunc(%(unit)s, n.opened_at) AS at, count(*) AS n
    FROM {N} AS n
    WHERE n.source = 'campaign' AND n.source_ref = ANY(%(refs)s) AND n.opened_at >= date_trunc(%(unit)s, %(start)s)
    GROUP BY 1
)
SELECT b.at, coalesce(d.n, 0), coalesce(o.n, 0)
FROM buckets AS b LEFT JOIN delivered AS d USING (at) LEFT JOIN opened AS o USING (at)
ORDER BY b.at
"""  # noqa: S608 - table names only


def timeline(campaign: Campaign, *, now: datetime | None = None) -> Timeline:
    """Deliveries and opens over time since launch, bucketed in PostgreSQL (see UNITS)."""
    now = now or timezone.now()
    runs = campaign.runs.aggregate(start=Min("started_at"))
    start = runs["start"]
    if start is None:
        return Timeline("minute", [], [], [])
    start = min(start, now)
    unit, step = next(((u, s) for u, s in UNITS if (now - start) / s < MAX_BUCKETS), UNITS[-1])
    start = max(start, now - step * (MAX_BUCKETS - 1))
    if unit != "minute":
        counted = _rollups().campaign_timeline(campaign, unit=unit, start=start)
        starts = _buckets(start, now, unit, step)
        return Timeline(
            unit, starts, [counted.get(at, (0, 0))[0] for at in starts], [counted.get(at, (0, 0))[1] for at in starts]
        )
    refs = [str(pk) for pk in campaign.runs.values_list("pk", flat=True)]
    with connection.cursor() as cursor:
        cursor.execute(_MINUTES, {"unit": unit, "start": start, "end": now, "step": step, "refs": refs})
        rows = cursor.fetchall()
    return Timeline(unit, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def _buckets(start: datetime, end: datetime, unit: str, step: timedelta) -> list[datetime]:
    """Every bucket's start (UTC) from start's to end's, both included."""
    at = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        at = at.replace(hour=0)
    starts = []
    while at <= end:
        starts.append(at)
        at += step
    return starts


def as_message(found: Results, line: Timeline) -> dict:
    """What the campaign page shows under Results, as JSON: rendered by results.js (names with textContent)."""
    return {
        "variants": [
            {
                "name": v.name,
                "targeted": v.targeted,
                "delivered": v.delivered,
                "opened": v.opened,
                "converted": v.converted,
                "delivery_rate": v.delivery_rate,
                "open_rate": v.open_rate,
                "conversion_rate": v.conversion_rate,
            }
            for v in found.variants
        ],
        "verdict": verdict(found),
        "behind": behind(found),
        "held_back": [[_held_back_label(reason), n] for reason, n in sorted(found.held_back.items())],
        "chart": {
            "unit": line.unit,
            "step": int(dict(UNITS)[line.unit].total_seconds()),
            "times": [int(at.timestamp()) for at in line.starts],
            "delivered": line.delivered,
            "opened": line.opened,
        },
    }


# A campaign page shows the results counted last, if counted this recently: the beat's broadcast counts them at
# most once per rest for all of a campaign's open pages, and a page is sent fresh ones as soon as it connects. So
# loading or reloading pages reads no rows (the chart's minutes count the campaign's own, in its first hours).
RESULTS_CACHE_SECONDS = 10


def _results_key(campaign_id: int) -> str:
    return f"campaign-results:{campaign_id}"


def live_results(campaign: Campaign, *, fresh: bool = False) -> dict:
    """The campaign page's results and chart, as sent to it (on load and over its WebSocket): those counted in the
    last RESULTS_CACHE_SECONDS, unless `fresh` (the broadcast's count, kept for the pages loaded next)."""
    if not fresh:
        found = cache.get(_results_key(campaign.pk))
        if found is not None:
            return found
    found = as_message(results(campaign), timeline(campaign))
    cache.set(_results_key(campaign.pk), found, timeout=RESULTS_CACHE_SECONDS)
    return found


def _held_back_label(reason: str) -> str:
    if reason == "no_device":
        return "no active device"
    labels = dict(PolicyOutcome.choices)
    return labels[reason].lower() if reason in labels else reason.replace("_", " ")
