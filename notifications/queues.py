"""Which queue a notification's work goes to, and how it is handed to the workers: after commit, by task name.

Part of the engine's front door (notifications.engine): nothing outside the engine queues its tasks. The tasks
are named here and looked up by name (config.celery.enqueue), so the modules that queue work don't import the
tasks module that imports them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction

from config import wakeup
from config.celery import enqueue

PROCESS_NOTIFICATIONS = "notifications.tasks.process_notifications"
SEND_DELIVERIES = "notifications.tasks.send_deliveries"

PROCESS_CHUNK = 500  # notifications per worker task: a provider batch's worth
SEND_CHUNK = 500  # deliveries per worker task


def queue_for(category: str) -> str:
    if settings.NOTIFICATION_CATEGORIES.get(category) == "transactional":
        return settings.QUEUE_TRANSACTIONAL
    return settings.QUEUE_MARKETING


def enqueue_processing(notification_ids: Sequence[int], category: str, *, now: bool = False) -> None:
    """After commit (or `now`: they are committed), hand the notifications to the workers of their category's queue.

    Full chunks get a task each; the rest wakes the queue's task (config.wakeup), which also takes the other
    notifications waiting in that queue's categories, so a stream of single sends shares tasks.
    """
    queue = queue_for(category)
    ids = list(notification_ids)

    def send() -> None:
        for start in range(0, len(ids), PROCESS_CHUNK):
            chunk = ids[start : start + PROCESS_CHUNK]
            if len(chunk) == PROCESS_CHUNK:
                enqueue(PROCESS_NOTIFICATIONS, args=[chunk], queue=queue)
            else:
                wake_processing(queue, chunk)

    if now:
        send()
    else:
        transaction.on_commit(send)


def wake_processing(queue: str, notification_ids: list[int]) -> None:
    """Queue the task that takes `queue`'s waiting notifications, unless one is queued and not yet started."""
    wakeup.wake(wake_name(queue), PROCESS_NOTIFICATIONS, args=[notification_ids], kwargs={"woken": queue}, queue=queue)


def wake_name(queue: str) -> str:
    return f"notifications:{queue}"


def enqueue_deliveries(rows: list[tuple[int, str]]) -> int:
    """rows: (delivery id, category). After commit, each queue's share in chunks of SEND_CHUNK."""
    by_queue: dict[str, list[int]] = defaultdict(list)
    for pk, category in rows:
        by_queue[queue_for(category)].append(pk)

    def send() -> None:
        for queue, ids in by_queue.items():
            for start in range(0, len(ids), SEND_CHUNK):
                enqueue(SEND_DELIVERIES, args=[ids[start : start + SEND_CHUNK]], queue=queue)

    transaction.on_commit(send)
    return len(rows)
