"""Creating notifications: the one entry point for the direct-send API, events and campaigns."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import bulk_sql
from notifications.localization import pick_translation
from notifications.models import IdempotentRequest, Notification, NotificationStatus
from notifications.providers.base import Priority, PushMessage

if TYPE_CHECKING:
    from notifications.delivery import Pending

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


def localized_message(source: Content | Notification | Pending, locale: str = "") -> PushMessage:
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


@dataclass(frozen=True, slots=True)
class Stored:
    """What the callers of store_notifications need back of each row."""

    pk: int
    user_id: str
    status: str
    status_reason: str
    category: str
    send_at: datetime | None
    source_ref: str


# One statement for a whole batch (Django's bulk_create cost about 500 µs a row here: model
# instances, per-row defaults). The ids are taken beforehand, in the order of the rows.
_INSERT = f"""
INSERT INTO {Notification._meta.db_table}
    (id, user_id, title, body, image, deep_link, data, translations, template_key, dedup_key, dedup_seconds,
     frequency_caps, category, priority, ttl_seconds, collapse_key, source, source_ref, send_at, trigger_key,
     variant, target_device_id, status, status_reason, policy, created_at, updated_at)
SELECT i, u, ti, bo, im, dl, da, tr, tk, dk, ds, fc, ca, pr, tt, ck, so, sr, sa, trk, va, td, st, rs, po, now(), now()
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::jsonb[], %b::jsonb[],
            %b::text[], %b::text[], %b::int[], %b::jsonb[], %b::text[], %b::text[], %b::int[], %b::text[],
            %b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[],
            %b::text[])
    AS v(i, u, ti, bo, im, dl, da, tr, tk, dk, ds, fc, ca, pr, tt, ck, so, sr, sa, trk, va, td, st, rs, po)
"""  # noqa: S608 - only the table name is formatted in


@dataclass(frozen=True, slots=True)
class Settled:
    """The state a notification is written in: as it arrives (pending, scheduled, failed), or as it ended when it
    was judged and sent before being written (a campaign batch)."""

    status: str
    policy: str = ""
    reason: str = ""


def store_notifications(
    items: Iterable[NewNotification],
    *,
    send_inline: Callable[[str], bool] | None = None,
    ids: Sequence[int] | None = None,
    settled: Sequence[Settled] | None = None,
) -> list[Stored]:
    """Write notifications (in the caller's transaction) and queue the due ones after commit.

    `send_inline(category)` true: those are not queued; the caller sends them itself right after its
    commit (process_events does so for order updates, saving a queue hop). If it doesn't, the sweep will.
    `ids` and `settled`: notifications already judged and sent (notifications.delivery.send_new), written
    with the ids they were judged under and in the state they ended in.
    """
    now = timezone.now()
    items = list(items)
    if not items:
        return []
    states = settled if settled is not None else [_initial_state(item, now) for item in items]
    contents = [item.content for item in items]
    encoded: dict[int, tuple[str, str, str]] = {}  # one JSON encoding per distinct content (a campaign shares one)
    for content in contents:
        if id(content) not in encoded:
            encoded[id(content)] = (
                json.dumps(content.data),
                json.dumps(content.translations),
                json.dumps([list(cap) for cap in content.frequency_caps]),
            )
    columns = [
        list(ids) if ids is not None else bulk_sql.take_ids(Notification, len(items)),
        [i.user_id for i in items],
        [c.title for c in contents],
        [c.body for c in contents],
        [c.image for c in contents],
        [c.deep_link for c in contents],
        [encoded[id(c)][0] for c in contents],
        [encoded[id(c)][1] for c in contents],
        [c.template_key for c in contents],
        [c.dedup_key for c in contents],
        [c.dedup_seconds for c in contents],
        [encoded[id(c)][2] for c in contents],
        [c.category for c in contents],
        [c.priority for c in contents],
        [c.ttl_seconds for c in contents],
        [c.collapse_key for c in contents],
        [i.source for i in items],
        [i.source_ref for i in items],
        [i.send_at for i in items],
        [i.trigger_key for i in items],
        [i.variant for i in items],
        [i.target_device_id for i in items],
        [state.status for state in states],
        [state.reason[:500] for state in states],
        [state.policy for state in states],
    ]
    bulk_sql.execute(_INSERT, columns)
    stored = [
        Stored(pk, i.user_id, state.status, state.reason[:500], i.content.category, i.send_at, i.source_ref)
        for pk, i, state in zip(columns[0], items, states, strict=True)
    ]
    due: dict[str, list[int]] = defaultdict(list)
    for notification in stored:
        if notification.status == NotificationStatus.PENDING:
            due[notification.category].append(notification.pk)
    for category, pks in due.items():
        if send_inline is None or not send_inline(category):
            enqueue_processing(pks, category)
    return stored


def _initial_state(item: NewNotification, now: datetime) -> Settled:
    if item.failure:
        return Settled(NotificationStatus.FAILED, reason=item.failure)
    if item.send_at is not None and item.send_at > now:
        return Settled(NotificationStatus.SCHEDULED)
    return Settled(NotificationStatus.PENDING)


def forget_old_idempotency_keys(*, older_than_days: int | None = None) -> int:
    """Idempotency keys protect against retries of a call, not forever; old ones are deleted."""
    days = settings.IDEMPOTENCY_KEY_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def enqueue_processing(notification_ids: Sequence[int], category: str) -> None:
    """After commit, hand the notifications to the workers of their category's queue.

    Full chunks get a task each; the rest wakes the queue's task (config.wakeup), which also takes the other
    notifications waiting in that queue's categories, so a stream of single sends shares tasks.
    """
    from notifications import tasks
    from notifications.delivery import queue_for

    queue = queue_for(category)
    ids = list(notification_ids)

    def send() -> None:
        for start in range(0, len(ids), PROCESS_CHUNK):
            chunk = ids[start : start + PROCESS_CHUNK]
            if len(chunk) == PROCESS_CHUNK:
                tasks.process_notifications.apply_async(args=[chunk], queue=queue)
            else:
                tasks.wake_processing(queue, chunk)

    transaction.on_commit(send)
