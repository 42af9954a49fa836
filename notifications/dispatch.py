"""Periodic work (beat): due retries and scheduled notifications, and the sweep of lost work.

Backoff waits live in the database (next_attempt_at), not in broker
countdowns: with Redis as broker a countdown past the visibility timeout is
delivered again, and a restarted worker drops what it held.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.celery import waiting_messages
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus
from notifications.queues import enqueue_deliveries, enqueue_processing, queue_for

DISPATCH_LIMIT = 20_000


def dispatch_due_retries() -> int:
    """Queue retries whose time has come (moved to `queued`, so the next run skips them)."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=DeliveryStatus.RETRY_SCHEDULED, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", "notification__category")[:DISPATCH_LIMIT]
        )
        Delivery.objects.filter(pk__in=[pk for pk, _ in rows]).update(status=DeliveryStatus.QUEUED, updated_at=now)
        return enqueue_deliveries(rows)


def dispatch_scheduled_notifications() -> int:
    """Queue notifications whose send_at has come."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=NotificationStatus.SCHEDULED, send_at__lte=now)
            .values_list("pk", "category")[:DISPATCH_LIMIT]
        )
        Notification.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=NotificationStatus.PENDING, updated_at=now
        )
        by_category: dict[str, list[int]] = defaultdict(list)
        for pk, category in rows:
            by_category[category].append(pk)
        for category, ids in by_category.items():
            enqueue_processing(ids, category)
    return len(rows)


def idle_categories() -> list[str]:
    """Categories whose queue is empty: their stale work can't be waiting for a worker."""
    idle_queues = {q for q in (settings.QUEUE_TRANSACTIONAL, settings.QUEUE_MARKETING) if waiting_messages(q) == 0}
    return [category for category in settings.NOTIFICATION_CATEGORIES if queue_for(category) in idle_queues]


def sweep_stuck() -> dict[str, int]:
    """Requeue work whose task was lost: a killed worker, a lost broker message.

    Work is stale when it has not moved for DELIVERY_STUCK_AFTER_SECONDS and
    its queue is empty; while the queue still holds messages the work may just
    be waiting its turn, and requeueing it would only pile duplicates onto a
    busy queue.
    """
    categories = idle_categories()
    if not categories:
        return {"deliveries": 0, "notifications": 0}
    cutoff = timezone.now() - timedelta(seconds=settings.DELIVERY_STUCK_AFTER_SECONDS)
    now = timezone.now()
    with transaction.atomic():
        deliveries = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING],
                updated_at__lt=cutoff,
                notification__category__in=categories,
            )
            .values_list("pk", "notification__category")[:DISPATCH_LIMIT]
        )
        Delivery.objects.filter(pk__in=[pk for pk, _ in deliveries]).update(
            status=DeliveryStatus.QUEUED, updated_at=now
        )
        enqueue_deliveries(deliveries)
        notifications = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=NotificationStatus.PENDING, updated_at__lt=cutoff, category__in=categories)
            .values_list("pk", "category")[:DISPATCH_LIMIT]
        )
        Notification.objects.filter(pk__in=[pk for pk, _ in notifications]).update(updated_at=now)
        by_category: dict[str, list[int]] = defaultdict(list)
        for pk, category in notifications:
            by_category[category].append(pk)
        for category, ids in by_category.items():
            enqueue_processing(ids, category)
    return {"deliveries": len(deliveries), "notifications": len(notifications)}
