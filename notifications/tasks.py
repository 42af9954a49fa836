"""Celery tasks: thin, idempotent, carrying ids only. The work is in delivery.py and dispatch.py."""

from __future__ import annotations

from celery import shared_task

from notifications import creation, delivery, dispatch


@shared_task(name="notifications.tasks.process_notifications", acks_late=True)
def process_notifications(notification_ids: list[int]) -> dict[str, int]:
    """Create the deliveries of these notifications and send them."""
    return delivery.process_notifications(notification_ids)


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
