"""The engine's front door: how the REST API, events, campaigns and tests hand it notifications.

    submit(...)             the direct-send API: one content to some users, idempotent per (caller, key)
    store(items, ...)       in the caller's transaction: write notifications; after commit, the due ones are
                            queued (notifications.queues) or, for `send_inline` categories, sent by the caller's
                            own process right after its commit (events do so for order updates: one hop less)
    send_judged(items, ids) in the caller's transaction: judge, send and write notifications not yet written
                            (a campaign's batch); call `finish()` on the result after the commit

Everything else in notifications/ is the engine's inside. Nothing outside the engine imports its inside to send
or queue (pyproject.toml's import-linter contract "Only the front door").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from config.celery import DATABASE_AWAY
from notifications import delivery
from notifications.models import IdempotentRequest, NotificationStatus
from notifications.queues import enqueue_processing
from notifications.records import Content, NewNotification, Pending, Stored
from notifications.store import store_notifications

__all__ = ["Content", "Created", "NewNotification", "Pending", "Stored", "send_judged", "store", "submit"]

send_judged = delivery.send_new


@dataclass(frozen=True)
class Created:
    """The direct-send API's answer."""

    notification_ids: list[int]
    status: str
    replayed: bool = False

    def as_answer(self) -> dict:
        return {"notification_ids": self.notification_ids, "status": self.status}


def submit(
    *,
    user_ids: Sequence[str],
    content: Content,
    source: str,
    source_ref: str = "",
    send_at: datetime | None = None,
    idempotency: tuple[str, str] | None = None,
) -> Created:
    """Store one notification per user and queue them, after commit, for the workers.

    `idempotency` is (who, key): a repeat returns the first call's answer and creates nothing. Everything is
    written in one transaction, so a refused or failed call leaves nothing behind.
    """
    if idempotency:
        previous = IdempotentRequest.objects.filter(principal=idempotency[0], key=idempotency[1]).first()
        if previous is not None:
            return Created(replayed=True, **previous.response)
    try:
        with transaction.atomic():
            stored = store(
                NewNotification(user_id, content, source, source_ref=source_ref, send_at=send_at)
                for user_id in dict.fromkeys(user_ids)
            )
            created = Created([n.pk for n in stored], stored[0].state.status)
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


def store(items: Iterable[NewNotification], *, send_inline: Callable[[str], bool] | None = None) -> list[Stored]:
    """Write notifications in the caller's transaction; after its commit, send the due ones.

    Due ones of a category for which `send_inline(category)` is true are sent by this process right after the
    commit (an on_commit callback: the caller's task does the work, no queue hop); the others are queued. Lost
    either way (the process dies after the commit), the sweep finds them pending and queues them.
    """
    stored = store_notifications(items)
    due: dict[str, list[int]] = defaultdict(list)
    for notification in stored:
        if notification.state.status == NotificationStatus.PENDING:
            due[notification.item.content.category].append(notification.pk)
    inline = {c: pks for c, pks in due.items() if send_inline is not None and send_inline(c)}
    for category, pks in due.items():
        if category not in inline:
            enqueue_processing(pks, category)
    if inline:
        transaction.on_commit(lambda: _send_now(inline))
    return stored


def _send_now(due: dict[str, list[int]]) -> None:
    """Send notifications just committed, in this process; queue them if PostgreSQL goes away meanwhile.

    Their sending transaction rolled back with the connection, so they are still pending: queued, their task
    retries until PostgreSQL is back (config.celery), instead of waiting minutes for the sweep (issue 21).
    """
    try:
        delivery.process_notifications([pk for pks in due.values() for pk in pks])
    except DATABASE_AWAY:
        for category, pks in due.items():
            enqueue_processing(pks, category, now=True)
