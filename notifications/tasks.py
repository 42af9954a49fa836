"""Celery tasks: thin, idempotent, carrying ids only. The work is in delivery.py and dispatch.py."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from config import wakeup
from config.celery import RETRY_WHILE_DATABASE_AWAY
from notifications import delivery, dispatch, queues, retention, store


@shared_task(name=queues.PROCESS_NOTIFICATIONS, acks_late=True, **RETRY_WHILE_DATABASE_AWAY)
def process_notifications(notification_ids: list[int], woken: str = "") -> dict[str, int]:
    """Create the deliveries of these notifications and send them.

    `woken` (a queue) when a request woke it (config.wakeup): it then also takes the other notifications
    waiting in that queue's categories, up to a batch.
    """
    if not woken:
        return delivery.process_notifications(notification_ids)
    wakeup.started(queues.wake_name(woken))
    categories = [c for c in settings.NOTIFICATION_CATEGORIES if queues.queue_for(c) == woken]
    outcomes = delivery.process_notifications(notification_ids, waiting=categories, limit=queues.PROCESS_CHUNK)
    if outcomes.get("taken", 0) >= queues.PROCESS_CHUNK:
        queues.wake_processing(woken, [])
    return outcomes


@shared_task(name=queues.SEND_DELIVERIES, acks_late=True, **RETRY_WHILE_DATABASE_AWAY)
def send_deliveries(delivery_ids: list[int]) -> dict[str, int]:
    return delivery.send_deliveries(delivery_ids)


@shared_task(name="notifications.tasks.dispatch_due", acks_late=True)
def dispatch_due() -> dict[str, int]:
    """Beat, every second: due retries and scheduled notifications."""
    return {
        "retries": dispatch.dispatch_due_retries(),
        "scheduled": dispatch.dispatch_scheduled_notifications(),
    }


@shared_task(name="notifications.tasks.forget_old_idempotency_keys", acks_late=True)
def forget_old_idempotency_keys() -> int:
    """Beat, daily: idempotency keys older than IDEMPOTENCY_KEY_RETENTION_DAYS."""
    return store.forget_old_idempotency_keys()


@shared_task(name="notifications.tasks.sweep_stuck", acks_late=True)
def sweep_stuck() -> dict[str, int]:
    """Beat: requeue deliveries and notifications whose task was lost."""
    return dispatch.sweep_stuck()


@shared_task(name="notifications.tasks.maintain_partitions", acks_late=True)
def maintain_partitions() -> dict[str, list[str]]:
    """Beat, hourly: the next days' partitions made, days past retention dropped (notifications.retention)."""
    return retention.maintain_partitions()
