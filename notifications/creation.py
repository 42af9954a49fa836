"""Creating notifications: the one entry point for the direct-send API, events and campaigns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.models import IdempotentRequest, Notification, NotificationStatus
from notifications.providers.base import Priority, PushMessage

PROCESS_CHUNK = 500  # notifications per worker task: a provider batch's worth


@dataclass(frozen=True)
class Content:
    title: str
    body: str
    category: str
    image: str = ""
    deep_link: str = ""
    data: dict[str, str] = field(default_factory=dict)
    priority: str = "high"
    ttl_seconds: int = 24 * 3600
    collapse_key: str = ""

    def push_message(self) -> PushMessage:
        return PushMessage(
            title=self.title,
            body=self.body,
            image=self.image,
            deep_link=self.deep_link,
            data=self.data,
            category=self.category,
            priority=Priority(self.priority),
            ttl_seconds=self.ttl_seconds,
            collapse_key=self.collapse_key,
        )


@dataclass(frozen=True)
class Created:
    notification_ids: list[int]
    status: str
    replayed: bool = False

    def as_answer(self) -> dict:
        return {"notification_ids": self.notification_ids, "status": self.status}


def create_notifications(
    *,
    user_ids: Sequence[str],
    content: Content,
    source: str,
    source_ref: str = "",
    send_at: datetime | None = None,
    idempotency: tuple[str, str] | None = None,
) -> Created:
    """Store one notification per user and queue them, after commit, for the workers.

    `idempotency` is (who, key): a repeat returns the first call's answer and
    creates nothing. Everything is written in one transaction, so a refused or
    failed call leaves nothing behind.
    """
    if idempotency:
        previous = IdempotentRequest.objects.filter(principal=idempotency[0], key=idempotency[1]).first()
        if previous is not None:
            return Created(replayed=True, **previous.response)
    scheduled = send_at is not None and send_at > timezone.now()
    status = NotificationStatus.SCHEDULED if scheduled else NotificationStatus.PENDING
    try:
        with transaction.atomic():
            notifications = Notification.objects.bulk_create(
                Notification(
                    user_id=user_id,
                    title=content.title,
                    body=content.body,
                    image=content.image,
                    deep_link=content.deep_link,
                    data=content.data,
                    category=content.category,
                    priority=content.priority,
                    ttl_seconds=content.ttl_seconds,
                    collapse_key=content.collapse_key,
                    source=source,
                    source_ref=source_ref,
                    send_at=send_at,
                    status=status,
                )
                for user_id in dict.fromkeys(user_ids)
            )
            created = Created([n.pk for n in notifications], status)
            if idempotency:
                IdempotentRequest.objects.create(
                    principal=idempotency[0], key=idempotency[1], response=created.as_answer()
                )
            if not scheduled:
                enqueue_processing(created.notification_ids, content.category)
    except IntegrityError:
        if not idempotency:
            raise
        # A concurrent call with the same key won the race: answer as it did.
        previous = IdempotentRequest.objects.get(principal=idempotency[0], key=idempotency[1])
        return Created(replayed=True, **previous.response)
    return created


def forget_old_idempotency_keys(*, older_than_days: int | None = None) -> int:
    """Idempotency keys protect against retries of a call, not forever; old ones are deleted."""
    days = settings.IDEMPOTENCY_KEY_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def enqueue_processing(notification_ids: Sequence[int], category: str) -> None:
    """After commit, hand the notifications to the workers of their category's queue."""
    from notifications import tasks
    from notifications.delivery import queue_for

    queue = queue_for(category)
    ids = list(notification_ids)

    def send() -> None:
        for start in range(0, len(ids), PROCESS_CHUNK):
            tasks.process_notifications.apply_async(args=[ids[start : start + PROCESS_CHUNK]], queue=queue)

    transaction.on_commit(send)
