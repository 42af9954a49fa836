"""Finding stored events whose processing task was lost, and queueing them again."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.celery import waiting_messages
from events.ingest import enqueue_processing
from events.models import Event, EventStatus

REQUEUE_LIMIT = 20_000


def requeue_unprocessed(*, older_than_seconds: int | None = None) -> int:
    """Queue events still unprocessed after EVENT_STUCK_AFTER_SECONDS, when the events queue is empty.

    While the queue holds messages, an old event may just be waiting its turn.
    Processing is idempotent (only `received` events are taken), so a second
    task for the same event does nothing.
    """
    if waiting_messages(settings.QUEUE_EVENTS):
        return 0
    seconds = settings.EVENT_STUCK_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=seconds)
    with transaction.atomic():
        ids = list(
            Event.objects.filter(status=EventStatus.RECEIVED, received_at__lt=cutoff)
            .order_by("received_at")
            .values_list("pk", flat=True)[:REQUEUE_LIMIT]
        )
        enqueue_processing(ids)
    return len(ids)
