"""Prometheus metrics of the delivery engine.

Workers and the web process are separate processes; with PROMETHEUS_MULTIPROC_DIR
set (the run command sets it) every process writes its samples there and
/metrics adds them up (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

from collections import Counter as CounterType
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from notifications.records import Claimed
    from providers.base import Outcome

DELIVERIES = Counter(
    "pushcart_deliveries_total",
    "Delivery attempts by provider, category and outcome",
    ["provider", "category", "outcome"],
)
FAILED = Counter("pushcart_failed_deliveries_total", "Deliveries that ended in a failed record", ["provider"])
NO_DEVICE = Counter("pushcart_notifications_without_device_total", "Notifications to users with no active device")
HELD_BACK = Counter(
    "pushcart_notifications_held_back_total",
    "Notifications shopper protection suppressed or deferred",
    ["category", "policy"],
)
TIME_TO_PROVIDER = Histogram(
    "pushcart_time_to_provider_seconds",
    "From notification created (or its send_at) to accepted by the provider",
    ["category"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600),
)

# A provider call's latency (its batch's, from sent to the last answer): a first-try success has no attempt row to
# keep it in (notifications.attempts).
PROVIDER_CALL = Histogram(
    "pushcart_provider_call_seconds",
    "One provider call (a batch of up to DELIVERY_SEND_BATCH pushes), from sent to its last answer",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


def record_batch(
    provider: str, results: Iterable[tuple[Claimed, Outcome]], now: datetime, latency_ms: int | None = None
) -> None:
    from notifications.models import DeliveryStatus
    from providers.base import OutcomeKind

    counts: CounterType[tuple[str, str]] = CounterType()
    histograms = {}  # labels() looked up once per category, not per delivery
    failed = 0
    for item, outcome in results:
        counts[(item.category, outcome.kind.value)] += 1
        if outcome.kind is OutcomeKind.DELIVERED:
            histogram = histograms.get(item.category)
            if histogram is None:
                histogram = histograms[item.category] = TIME_TO_PROVIDER.labels(item.category)
            histogram.observe((now - item.due_at).total_seconds())
        elif item.status == DeliveryStatus.FAILED:
            failed += 1
    if latency_ms is not None:
        PROVIDER_CALL.labels(provider).observe(latency_ms / 1000)
    for (category, kind), n in counts.items():  # one increment per label set, not per delivery
        DELIVERIES.labels(provider, category, kind).inc(n)
    if failed:
        FAILED.labels(provider).inc(failed)


def notifications_without_device(count: int) -> None:
    if count:
        NO_DEVICE.inc(count)


def notifications_held_back(category: str, policy: str, count: int = 1) -> None:
    if count:
        HELD_BACK.labels(category, policy).inc(count)


class OpenFailuresCollector:
    """Failed-delivery records awaiting a decision, counted when scraped (config.observability)."""

    def collect(self):  # type: ignore[no-untyped-def]
        from prometheus_client.core import GaugeMetricFamily

        from notifications.models import FailedDelivery, FailedDeliveryStatus

        gauge = GaugeMetricFamily("pushcart_failed_deliveries_open", "Failed-delivery records awaiting a decision")
        gauge.add_metric([], float(FailedDelivery.objects.filter(status=FailedDeliveryStatus.OPEN).count()))
        yield gauge
