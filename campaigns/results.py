"""A campaign's results per variant: delivery, open and conversion rates, and whether the leader really leads."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from campaigns.models import Campaign
from notifications.models import Delivery, Notification, NotificationStatus, Source
from protection.outcomes import PolicyOutcome

N = Notification._meta.db_table
D = Delivery._meta.db_table

_PER_VARIANT = f"""
SELECT n.variant, count(*),
       count(*) FILTER (WHERE dl.first IS NOT NULL),
       count(*) FILTER (WHERE n.opened_at IS NOT NULL),
       count(*) FILTER (WHERE dl.first IS NOT NULL AND EXISTS (
           SELECT 1 FROM events_event e
           WHERE e.user_id = n.user_id AND e.type = %s AND e.occurred_at >= dl.first AND e.occurred_at < dl.first + %s))
FROM {N} AS n
LEFT JOIN LATERAL (
    SELECT min(d.delivered_at) AS first FROM {D} AS d WHERE d.notification_id = n.id AND d.status = 'delivered'
) AS dl ON TRUE
WHERE n.source = 'campaign' AND n.source_ref = ANY(%s)
GROUP BY n.variant ORDER BY n.variant
"""  # noqa: S608 - table names only


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
    refs = [str(pk) for pk in campaign.runs.values_list("pk", flat=True)]
    with connection.cursor() as cursor:
        cursor.execute(_PER_VARIANT, [campaign.conversion_event, campaign.conversion_window, refs])
        variants = [VariantResult(name or "all", *counts) for name, *counts in cursor.fetchall()]
    held_back = dict(
        Notification.objects.filter(source=Source.CAMPAIGN, source_ref__in=refs, status=NotificationStatus.SUPPRESSED)
        .values_list("policy")
        .annotate(n=Count("pk"))
    )
    no_device = Notification.objects.filter(
        source=Source.CAMPAIGN, source_ref__in=refs, status=NotificationStatus.NO_DEVICE
    ).count()
    if no_device:
        held_back["no_device"] = no_device
    names = list(campaign.variants.values_list("name", flat=True))
    return Results(variants, held_back, compare(variants), names)


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

# Both series are counted over the campaign's own rows only: its notifications through campaign_once_per_user
# (source_ref first), their deliveries through delivery_once_per_device (notification first). No index on
# delivered_at or opened_at is needed, nor worth its cost on every push's write.
_TIMELINE = f"""
WITH buckets AS (
    SELECT generate_series(date_trunc(%(unit)s, %(start)s), date_trunc(%(unit)s, %(end)s), %(step)s) AS at
), delivered AS (
    SELECT date_trunc(%(unit)s, d.delivered_at) AS at, count(*) AS n
    FROM {N} AS n JOIN {D} AS d ON d.notification_id = n.id
    WHERE n.source = 'campaign' AND n.source_ref = ANY(%(refs)s)
      AND d.status = 'delivered' AND d.delivered_at >= date_trunc(%(unit)s, %(start)s)
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
    refs = [str(pk) for pk in campaign.runs.values_list("pk", flat=True)]
    with connection.cursor() as cursor:
        cursor.execute(_TIMELINE, {"unit": unit, "start": start, "end": now, "step": step, "refs": refs})
        rows = cursor.fetchall()
    return Timeline(unit, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


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
        "held_back": [[_held_back_label(reason), n] for reason, n in sorted(found.held_back.items())],
        "chart": {
            "unit": line.unit,
            "step": int(dict(UNITS)[line.unit].total_seconds()),
            "times": [int(at.timestamp()) for at in line.starts],
            "delivered": line.delivered,
            "opened": line.opened,
        },
    }


def live_results(campaign: Campaign) -> dict:
    """The campaign page's results and chart, as sent to it (on load and over its WebSocket)."""
    return as_message(results(campaign), timeline(campaign))


def _held_back_label(reason: str) -> str:
    if reason == "no_device":
        return "no active device"
    labels = dict(PolicyOutcome.choices)
    return labels[reason].lower() if reason in labels else reason.replace("_", " ")
