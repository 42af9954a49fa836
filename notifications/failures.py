"""What Support and Administrators do with failed deliveries: requeue or discard them."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from notifications.dispatch import enqueue_deliveries
from notifications.models import Delivery, DeliveryStatus, FailedDelivery, FailedDeliveryStatus


def requeue_failed(failed_ids: list[int], *, by: str) -> int:
    """Give open failed deliveries one more attempt (the same delivery, a new attempt)."""
    now = timezone.now()
    with transaction.atomic():
        records = FailedDelivery.objects.select_for_update().filter(pk__in=failed_ids, status=FailedDeliveryStatus.OPEN)
        delivery_ids = list(records.values_list("delivery_id", flat=True))
        rows = list(
            Delivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.FAILED).values_list(
                "pk", "notification__category"
            )
        )
        Delivery.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=DeliveryStatus.QUEUED, next_attempt_at=None, updated_at=now
        )
        FailedDelivery.objects.filter(delivery_id__in=[pk for pk, _ in rows]).update(
            status=FailedDeliveryStatus.REQUEUED, resolved_at=now, resolved_by=by
        )
        enqueue_deliveries(rows)
    return len(rows)


def discard_failed(failed_ids: list[int], *, by: str) -> int:
    """Close open failed deliveries without sending them again."""
    return FailedDelivery.objects.filter(pk__in=failed_ids, status=FailedDeliveryStatus.OPEN).update(
        status=FailedDeliveryStatus.DISCARDED, resolved_at=timezone.now(), resolved_by=by
    )
