"""A campaign's results per variant: delivery, open and conversion rates, and whether the leader really leads."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count

from campaigns.models import Campaign
from notifications.models import Delivery, Notification, NotificationStatus, Source

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
    return Results(variants, held_back, compare(variants))


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
