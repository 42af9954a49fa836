"""Creating notifications: the one entry point for the direct-send API, events and campaigns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.localization import pick_translation
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
    # Per locale (lower case): {"title", "body", "image", "deep_link"}; a device's locale picks one.
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    template_key: str = ""
    dedup_key: str = ""  # with dedup_seconds: sent at most once per user within the window
    dedup_seconds: int = 0
    frequency_caps: tuple[tuple[int, int], ...] = ()  # stricter caps for this send: (seconds, max)

    def push_message(self, locale: str = "") -> PushMessage:
        return localized_message(self, locale)


def localized_message(source: Content | Notification, locale: str = "") -> PushMessage:
    """The push a device with this locale gets: its translation's texts, or the default ones."""
    texts = pick_translation(source.translations, locale) or {}
    return PushMessage(
        title=texts.get("title", source.title),
        body=texts.get("body", source.body),
        image=texts.get("image", source.image),
        deep_link=texts.get("deep_link", source.deep_link),
        data={str(k): str(v) for k, v in (source.data or {}).items()},
        category=source.category,
        priority=Priority(source.priority),
        ttl_seconds=source.ttl_seconds,
        collapse_key=source.collapse_key,
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
    try:
        with transaction.atomic():
            notifications = store_notifications(
                NewNotification(user_id, content, source, source_ref=source_ref, send_at=send_at)
                for user_id in dict.fromkeys(user_ids)
            )
            created = Created([n.pk for n in notifications], notifications[0].status)
            if idempotency:
                IdempotentRequest.objects.create(
                    principal=idempotency[0], key=idempotency[1], response=created.as_answer()
                )
    except IntegrityError:
        if not idempotency:
            raise
        # A concurrent call with the same key won the race: answer as it did.
        previous = IdempotentRequest.objects.get(principal=idempotency[0], key=idempotency[1])
        return Created(replayed=True, **previous.response)
    return created


@dataclass(frozen=True)
class NewNotification:
    user_id: str
    content: Content
    source: str
    source_ref: str = ""
    send_at: datetime | None = None
    # Lets a later event cancel it while it waits (see events.triggers).
    trigger_key: str = ""
    # Set when it could not be made (a template lacked data): stored as failed, with this reason.
    failure: str = ""
    variant: str = ""  # a campaign's A/B variant
    target_device_id: int | None = None  # only this device (a test send to one token)


def store_notifications(items: Iterable[NewNotification]) -> list[Notification]:
    """Write notifications (in the caller's transaction) and queue the due ones after commit."""
    now = timezone.now()
    rows = []
    for item in items:
        content = item.content
        if item.failure:
            status = NotificationStatus.FAILED
        elif item.send_at is not None and item.send_at > now:
            status = NotificationStatus.SCHEDULED
        else:
            status = NotificationStatus.PENDING
        rows.append(
            Notification(
                user_id=item.user_id,
                title=content.title,
                body=content.body,
                image=content.image,
                deep_link=content.deep_link,
                data=content.data,
                translations=content.translations,
                template_key=content.template_key,
                dedup_key=content.dedup_key,
                dedup_seconds=content.dedup_seconds,
                frequency_caps=[list(cap) for cap in content.frequency_caps],
                category=content.category,
                priority=content.priority,
                ttl_seconds=content.ttl_seconds,
                collapse_key=content.collapse_key,
                source=item.source,
                source_ref=item.source_ref,
                send_at=item.send_at,
                trigger_key=item.trigger_key,
                variant=item.variant,
                target_device_id=item.target_device_id,
                status=status,
                status_reason=item.failure[:500],
            )
        )
    notifications = Notification.objects.bulk_create(rows)
    due: dict[str, list[int]] = defaultdict(list)
    for notification in notifications:
        if notification.status == NotificationStatus.PENDING:
            due[notification.category].append(notification.pk)
    for category, ids in due.items():
        enqueue_processing(ids, category)
    return notifications


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
