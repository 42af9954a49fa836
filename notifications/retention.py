"""What the engine keeps, and for how long: its tables' day partitions made ahead and dropped past retention."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Model
from django.utils import timezone

from config import partitions
from notifications.models import Delivery, DeliveryAttempt, FailedDelivery, Notification, NotificationContent

DELETE_BATCH = 5_000  # failed-delivery records deleted per statement


def kept_days() -> dict[type[Model], int]:
    """The partitioned tables and their retention in days (deliveries go before the notifications they read)."""
    return {
        NotificationContent: settings.NOTIFICATION_RETENTION_DAYS,  # read with its notifications
        Notification: settings.NOTIFICATION_RETENTION_DAYS,
        Delivery: settings.DELIVERY_RETENTION_DAYS,
        DeliveryAttempt: settings.DELIVERY_RETENTION_DAYS,
    }


def maintain_partitions() -> dict[str, list[str]]:
    """Beat, hourly: the next days' partitions, the old days dropped, the old failed-delivery records deleted."""
    done = partitions.maintain({model._meta.db_table: days for model, days in kept_days().items()})
    done["failed_deliveries_deleted"] = [str(forget_old_failed_deliveries())]
    return done


def forget_old_failed_deliveries() -> int:
    """Failed-delivery records past FAILED_DELIVERY_RETENTION_DAYS (few: deleted in batches, not partitioned)."""
    cutoff = timezone.now() - timedelta(days=settings.FAILED_DELIVERY_RETENTION_DAYS)
    deleted = 0
    while True:
        batch = list(FailedDelivery.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:DELETE_BATCH])
        if not batch:
            return deleted
        deleted += FailedDelivery.objects.filter(pk__in=batch).delete()[0]
