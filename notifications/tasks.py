"""Celery tasks: thin, idempotent, carrying ids only. The work is in delivery.py and dispatch.py."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from config import wakeup
from notifications import creation, delivery, dispatch


@shared_task(name="notifications.tasks.process_notifications", acks_late=True)
def process_notifications(notification_ids: list[int], woken: str = "") -> dict[str, int]:
    """Create the deliveries of these notifications and send them.

    `woken` (a queue) when a request woke it (config.wakeup): it then also takes the other notifications
    waiting in that queue's categories, up to a batch.
    """
    if not woken:
        return delivery.process_notifications(notification_ids)
    wakeup.started(_wake_name(woken))
    categories = [c for c in settings.NOTIFICATION_CATEGORIES if delivery.queue_for(c) == woken]
    outcomes = delivery.process_notifications(notification_ids, waiting=categories, limit=creation.PROCESS_CHUNK)
    if outcomes.get("taken", 0) >= creation.PROCESS_CHUNK:
        wake_processing(woken, [])
    return outcomes


def wake_processing(queue: str, notification_ids: list[int]) -> None:
    """Queue the task that takes `queue`'s waiting notifications, unless one is queued and not yet started."""
    wakeup.wake(_wake_name(queue), process_notifications, args=[notification_ids], kwargs={"woken": queue}, queue=queue)


def _wake_name(queue: str) -> str:
    return f"notifications:{queue}"


@shared_task(name="notifications.tasks.send_deliveries", acks_late=True)
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
    return creation.forget_old_idempotency_keys()


@shared_task(name="notifications.tasks.sweep_stuck", acks_late=True)
def sweep_stuck() -> dict[str, int]:
    """Beat: requeue deliveries and notifications whose task was lost."""
    return dispatch.sweep_stuck()
