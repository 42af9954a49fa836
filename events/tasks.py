"""Celery tasks for events: thin, idempotent, carrying ids only."""

from __future__ import annotations

from celery import shared_task

from events import triggers
from events.recovery import requeue_unprocessed


@shared_task(name="events.tasks.process_events", acks_late=True)
def process_events(event_ids: list[int]) -> dict[str, int]:
    return triggers.process_events(event_ids)


@shared_task(name="events.tasks.requeue_unprocessed", acks_late=True)
def requeue_unprocessed_events() -> int:
    """Beat: events whose processing task was lost (a killed worker, a restarted broker)."""
    return requeue_unprocessed()
