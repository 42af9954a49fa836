"""Writing notifications: one INSERT for a whole batch's contents, one for its notifications, their columns taken
from notifications.records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from config import bulk_sql
from notifications.models import IdempotentRequest, Notification, NotificationContent, NotificationStatus
from notifications.records import (
    CONTENT_COLUMNS,
    ITEM_COLUMNS,
    JSON_COLUMNS,
    ON_NOTIFICATION,
    STATE_COLUMNS,
    Content,
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
CONTENT_INSERT_COLUMNS = ["id", *CONTENT_COLUMNS]
_INSERT_CONTENTS = f"""
INSERT INTO {NotificationContent._meta.db_table} ({", ".join(CONTENT_INSERT_COLUMNS)}, created_at)
SELECT {", ".join(CONTENT_INSERT_COLUMNS)}, now()
FROM unnest({", ".join(f"%b::{array_type(c, NotificationContent)}[]" for c in CONTENT_INSERT_COLUMNS)})
    AS v({", ".join(CONTENT_INSERT_COLUMNS)})
"""  # noqa: S608 - only the table's and its columns' names are formatted in


def store_notifications(
    items: Iterable[NewNotification],
    *,
    ids: Sequence[int] | None = None,
    settled: Sequence[Settled] | None = None,
) -> list[Stored]:
    """Write notifications in the caller's transaction, as they arrive (pending, scheduled, failed).

    Each distinct Content object is written once (a campaign's batch shares one per variant), then the
    notifications referencing theirs. `ids` and `settled`: notifications already judged and sent (a campaign's
    batch), written with the ids they were judged under and in the state they ended in. Queues nothing:
    notifications.engine does.
    """
    now = timezone.now()
    items = list(items)
    if not items:
        return []
    states = settled if settled is not None else [initial_state(item, now) for item in items]
    pks = list(ids) if ids is not None else bulk_sql.take_ids(Notification, len(items))
    content_ids = _write_contents(items)
    columns: list[list[object]] = [pks]
    for name in ITEM_COLUMNS:
        if name == "content_id":
            columns.append([content_ids[id(item.content)] for item in items])
        elif name in ON_NOTIFICATION:
            columns.append([getattr(item.content, name) for item in items])
        else:
            columns.append([getattr(item, name) for item in items])
    for name in STATE_COLUMNS:
        columns.append(
            [getattr(state, name)[:500] if name == "status_reason" else getattr(state, name) for state in states]
        )
    bulk_sql.execute(_INSERT, columns)
    return [Stored(pk, item, state) for pk, item, state in zip(pks, items, states, strict=True)]


def _write_contents(items: list[NewNotification]) -> dict[int, int]:
    """One content row per distinct Content object of the batch; returns each object's row id by id(object)."""
    contents: dict[int, Content] = {}
    for item in items:
        contents.setdefault(id(item.content), item.content)
    content_ids = dict(zip(contents, bulk_sql.take_ids(NotificationContent, len(contents)), strict=True))
    columns: list[list[object]] = [list(content_ids.values())]
    for name in CONTENT_COLUMNS:
        values = [getattr(content, name) for content in contents.values()]
        # frequency_caps' tuples become JSON arrays
        columns.append([json.dumps(v) for v in values] if name in JSON_COLUMNS else values)
    bulk_sql.execute(_INSERT_CONTENTS, columns)
    return content_ids


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
