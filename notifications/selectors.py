"""Reads of the delivery log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from notifications.models import Delivery, DeliveryStatus

FINAL = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.TOKEN_INVALID)


@dataclass(frozen=True)
class SuccessRate:
    window: str
    delivered: int
    finished: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.delivered / self.finished, 2) if self.finished else None


def success_rates() -> list[SuccessRate]:
    """Delivered out of finished deliveries created in the last hour and the last day."""
    now = timezone.now()
    rates = []
    for label, span in (("last hour", timedelta(hours=1)), ("last day", timedelta(days=1))):
        counts = Delivery.objects.filter(created_at__gte=now - span).aggregate(
            delivered=Count("pk", filter=Q(status=DeliveryStatus.DELIVERED)),
            finished=Count("pk", filter=Q(status__in=FINAL)),
        )
        rates.append(SuccessRate(label, counts["delivered"], counts["finished"]))
    return rates
