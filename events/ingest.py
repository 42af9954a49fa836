"""Storing incoming events, once per producer and idempotency key, and handing them to the workers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config import bulk_sql, wakeup
from config.celery import enqueue
from events.models import Event, EventKey, EventStatus

PROCESS_CHUNK = 500  # events per worker task
WAKE = "events"  # config.wakeup's name for the task that takes waiting events
PROCESS_EVENTS = "events.tasks.process_events"  # the task, named: ingest is imported by the tasks module


@dataclass(frozen=True)
class IncomingEvent:
    type: str
    user_id: str
    idempotency_key: str
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    id: int
    idempotency_key: str
    duplicate: bool


# One statement for the whole batch: a key seen before (or twice in the batch) gets no EventKey row, so no event
# (events are partitioned by day: the key's uniqueness lives in EventKey); RETURNING names what was new.
@cache
def _insert() -> str:
    event, key = Event._meta.db_table, EventKey._meta.db_table
    return f"""
WITH v AS (
    SELECT DISTINCT ON (k) k, t, u, o, d, a
    FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::jsonb[], %b::jsonb[])
        WITH ORDINALITY AS v(k, t, u, o, d, a, n)
    ORDER BY k, n
), fresh AS (
    INSERT INTO {key} (producer, idempotency_key, event_id, received_at)
    SELECT %b, k, {bulk_sql.id_default(Event)}, now() FROM v
    ON CONFLICT (producer, idempotency_key) DO NOTHING
    RETURNING idempotency_key, event_id
)
INSERT INTO {event}
    (id, producer, idempotency_key, type, user_id, occurred_at, received_at, data, attributes, status, outcome)
SELECT fresh.event_id, %b, k, t, u, coalesce(o, now()), now(), d, a, '{EventStatus.RECEIVED}', ''
FROM fresh JOIN v ON v.k = fresh.idempotency_key
RETURNING id, idempotency_key
"""  # noqa: S608 - only the tables' names, the id's default and constants are formatted in


def ingest_events(events: Sequence[IncomingEvent], *, producer: str) -> list[Accepted]:
    """Store the events in one statement and queue the new ones; duplicates are answered, not stored again."""
    if not events:
        return []
    # One statement stores the batch (atomic on its own): no transaction around it, which would cost two more
    # round trips per request; the answer and the hand-over to the workers follow its commit.
    rows = bulk_sql.execute(
        _insert(),
        [
            [e.idempotency_key for e in events],
            [e.type for e in events],
            [e.user_id for e in events],
            [e.occurred_at for e in events],
            [json.dumps(e.data) for e in events],
            [json.dumps(e.attributes) for e in events],
            producer,
            producer,
        ],
    )
    new = dict((key, pk) for pk, key in rows)
    seen = {}
    missing = [e.idempotency_key for e in events if e.idempotency_key not in new]
    if missing:
        seen = dict(
            EventKey.objects.filter(producer=producer, idempotency_key__in=missing).values_list(
                "idempotency_key", "event_id"
            )
        )
    answers, fresh_ids = [], []
    for event in events:
        key = event.idempotency_key
        if key in new:
            pk = new.pop(key)  # a key twice in one batch: the second is the duplicate
            fresh_ids.append(pk)
            answers.append(Accepted(pk, key, duplicate=False))
        else:
            answers.append(Accepted(seen.get(key) or _first_of_batch(answers, key), key, duplicate=True))
    enqueue_processing(fresh_ids)
    return answers


def _first_of_batch(answers: list[Accepted], key: str) -> int:
    return next(a.id for a in answers if a.idempotency_key == key)


def enqueue_processing(event_ids: Sequence[int]) -> None:
    """After commit, hand the events to the workers (the transactional queue: order events can't wait).

    Full chunks get a task each; the rest wakes the events' task (config.wakeup), which takes every event
    still waiting, so a stream of single events shares tasks instead of queueing one each.
    """
    ids = list(event_ids)

    def send() -> None:
        for start in range(0, len(ids), PROCESS_CHUNK):
            chunk = ids[start : start + PROCESS_CHUNK]
            if len(chunk) == PROCESS_CHUNK:
                enqueue(PROCESS_EVENTS, args=[chunk], queue=settings.QUEUE_EVENTS)
            else:
                wakeup.wake(WAKE, PROCESS_EVENTS, args=[chunk], queue=settings.QUEUE_EVENTS)

    if ids:
        transaction.on_commit(send)


def mark_rejected(*, producer: str, idempotency_key: str, raw: str, reason: str) -> None:
    """Keep a message that could not be read as an event (from Kafka), with the reason, instead of losing it."""
    with transaction.atomic():
        key, created = EventKey.objects.get_or_create(
            producer=producer, idempotency_key=idempotency_key, defaults={"event_id": bulk_sql.take_ids(Event, 1)[0]}
        )
        if created:
            Event.objects.create(
                pk=key.event_id,
                producer=producer,
                idempotency_key=idempotency_key,
                type="",
                user_id="",
                occurred_at=timezone.now(),
                data={"raw": storable_text(raw[:10_000])},
                status=EventStatus.REJECTED,
                outcome=storable_text(reason[:2000]),
                processed_at=timezone.now(),
            )


def storable_text(text: str) -> str:
    """`text` as PostgreSQL's text and jsonb can hold it: NUL and lone surrogates become U+FFFD.

    A rejected message is often rejected for holding exactly these, and its record must not fail in turn.
    """
    return text.replace("\x00", "\ufffd").encode(errors="surrogatepass").decode(errors="replace")
