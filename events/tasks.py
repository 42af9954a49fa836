"""Celery tasks for events: thin, idempotent, carrying ids only."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from config import wakeup
from config.celery import RETRY_WHILE_DATABASE_AWAY
from events import ingest, retention, triggers
from events.recovery import requeue_unprocessed


@shared_task(name=ingest.PROCESS_EVENTS, acks_late=True, **RETRY_WHILE_DATABASE_AWAY)
def process_events(event_ids: list[int]) -> dict[str, int]:
    """These events, and others waiting, up to a batch (config.wakeup: woken by the requests that stored them)."""
    wakeup.started(ingest.WAKE, gather=len(event_ids) < ingest.PROCESS_CHUNK)  # a full chunk has its batch
    counts = triggers.process_events(event_ids)
    if sum(counts.values()) >= settings.EVENT_PROCESS_BATCH:  # a full batch: more may be waiting
        wakeup.wake(ingest.WAKE, ingest.PROCESS_EVENTS, args=[[]], queue=settings.QUEUE_EVENTS)
    return counts


@shared_task(name="events.tasks.requeue_unprocessed", acks_late=True)
def requeue_unprocessed_events() -> int:
    """Beat: events whose processing task was lost (a killed worker, a restarted broker)."""
    return requeue_unprocessed()


@shared_task(name="events.tasks.maintain_partitions", acks_late=True)
def maintain_partitions() -> dict[str, list[str]]:
    """Beat, hourly: the next days' partitions made, days past retention dropped (events.retention)."""
    return retention.maintain_partitions()
