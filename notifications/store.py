"""Writing notifications: one INSERT for a whole batch, its columns taken from notifications.records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from config import bulk_sql
from notifications.models import IdempotentRequest, Notification, NotificationStatus
from notifications.records import (
    CONTENT_COLUMNS,
    ITEM_COLUMNS,
    JSON_COLUMNS,
    STATE_COLUMNS,
    NewNotification,
    Settled,
    Stored,
    array_type,
)

INSERT_COLUMNS = ["id", *ITEM_COLUMNS, *STATE_COLUMNS]

# One statement for a whole batch (Django's bulk_create cost about 500 µs a row here: model instances, per-row
# defaults). The ids are taken beforehand, in the order of the rows.
_INSERT = f"""
INSERT INTO {Notification._meta.db_table} ({", ".join(INSERT_COLUMNS)}, created_at, updated_at)
SELECT {", ".join(INSERT_COLUMNS)}, now(), now()
FROM unnest({", ".join(f"%b::{array_type(c)}[]" for c in INSERT_COLUMNS)}) AS v({", ".join(INSERT_COLUMNS)})
"""  # noqa: S608 - only the table's and its columns' names are formatted in


def store_notifications(
    items: Iterable[NewNotification],
    *,
    ids: Sequence[int] | None = None,
    settled: Sequence[Settled] | None = None,
) -> list[Stored]:
    """Write notifications in the caller's transaction, as they arrive (pending, scheduled, failed).

    `ids` and `settled`: notifications already judged and sent (a campaign's batch), written with the ids they
    were judged under and in the state they ended in. Queues nothing: notifications.engine does.
    """
    now = timezone.now()
    items = list(items)
    if not items:
        return []
    states = settled if settled is not None else [initial_state(item, now) for item in items]
    pks = list(ids) if ids is not None else bulk_sql.take_ids(Notification, len(items))
    encoded: dict[tuple[int, str], str] = {}  # one JSON encoding per distinct content (a campaign shares one)

    def content_value(item: NewNotification, name: str) -> object:
        value = getattr(item.content, name)
        if name not in JSON_COLUMNS:
            return value
        key = (id(item.content), name)
        if key not in encoded:
            encoded[key] = json.dumps(value)  # frequency_caps' tuples become JSON arrays
        return encoded[key]

    columns: list[list[object]] = [pks]
    for name in ITEM_COLUMNS:
        if name in CONTENT_COLUMNS:
            columns.append([content_value(item, name) for item in items])
        else:
            columns.append([getattr(item, name) for item in items])
    for name in STATE_COLUMNS:
        columns.append(
            [getattr(state, name)[:500] if name == "status_reason" else getattr(state, name) for state in states]
        )
    bulk_sql.execute(_INSERT, columns)
    return [Stored(pk, item, state) for pk, item, state in zip(pks, items, states, strict=True)]


def initial_state(item: NewNotification, now: datetime) -> Settled:
    if item.failure:
        return Settled(NotificationStatus.FAILED, status_reason=item.failure)
    if item.send_at is not None and item.send_at > now:
        return Settled(NotificationStatus.SCHEDULED)
    return Settled(NotificationStatus.PENDING)


def forget_old_idempotency_keys(*, older_than_days: int | None = None) -> int:
    """Idempotency keys protect against retries of a call, not forever; old ones are deleted."""
    days = settings.IDEMPOTENCY_KEY_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
