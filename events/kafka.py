"""Reading events from a Kafka topic into the same ingest service as the REST endpoint.

At-least-once with an idempotent store: a batch is stored (one transaction),
then its offsets are committed. A consumer that dies between the two gets the
batch again after a restart or rebalance, and the store answers each event as
a duplicate, so nothing is lost and nothing is processed twice.

A message that is not a valid event is kept as a `rejected` event with the
reason (and committed past), so one bad message never blocks the partition:
that includes what Python can't read (nesting past the recursion limit, an
integer past the int-string conversion limit) and what PostgreSQL can't store
(NUL, lone surrogates, NaN or infinity; refused, with deep nesting, by
config.parsers.check_json as in a request body). Should a batch's INSERT still
fail on its data, its events are stored one by one and those refused are
rejected, so the batch's good events are kept and its offsets committed.

A batch is whatever has arrived, taken as soon as there is something: a steady
stream is stored in small batches within milliseconds of arriving, a backlog in
full ones (`python -m bench.kafka` measures both).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from django.conf import settings
from django.db import DataError, transaction

from config.parsers import JSONInputError, check_json
from events.api.serializers import EventSerializer
from events.ingest import Accepted, IncomingEvent, ingest_events, mark_rejected

logger = logging.getLogger(__name__)

FETCH_WAIT_MAX_MS = 50
# What an event's own INSERT raises when PostgreSQL (or psycopg's encoder) refuses its values: the event is rejected.
# Anything else (the database is down, the connection broke) stops the consumer with nothing committed, as before.
_UNSTORABLE = (DataError, psycopg.DataError, UnicodeError)


@dataclass
class ConsumeStats:
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0


def consumer_config(bootstrap: str, group: str) -> dict[str, object]:
    session_ms = settings.KAFKA_SESSION_TIMEOUT_MS
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,  # offsets are committed only after the events are stored
        "auto.offset.reset": "earliest",
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(100, session_ms // 4),
        # How long the broker may hold a fetch that finds nothing new. Kafka answers as soon as data arrives;
        # Tansu (tests, bench) holds it: at 833 msg/s, produce → poll p99 was 254 ms at the default (500), 32 ms at
        # 50, for a third more broker CPU per message (10: 16 ms, three times the CPU).
        "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
    }


def read_message(message: Message, topic: str) -> tuple[IncomingEvent | None, str]:
    """The event in a message, or (None, why not). Never raises for what a message holds."""
    fallback_key = f"{topic}/{message.partition()}/{message.offset()}"
    try:
        payload = json.loads(message.value() or b"")
    except RecursionError:
        return None, "Not JSON: nested too deeply to be read."
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer past Python's int-string limit
        return None, f"Not JSON: {exc}"
    try:
        check_json(payload)  # before validation, which recurses, and storage, which refuses NUL
    except JSONInputError as exc:
        return None, f"Not a valid event: {exc}"
    if isinstance(payload, dict) and "idempotency_key" not in payload:
        payload = {**payload, "idempotency_key": fallback_key}  # the message's place in the log is unique
    serializer = EventSerializer(data=payload)
    try:
        if not serializer.is_valid():
            return None, f"Not a valid event: {json.dumps(serializer.errors)}"
        return serializer.to_event(serializer.validated_data), ""
    except (RecursionError, ValueError, TypeError) as exc:  # validation itself failed on this value: keep it, move on
        logger.warning("Message %s could not be validated: %r", fallback_key, exc)
        return None, f"Not a valid event: could not be validated ({type(exc).__name__}: {exc})"


def consume(
    *,
    bootstrap: str,
    topic: str,
    group: str,
    batch_size: int = 500,
    should_stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[ConsumeStats], None] = lambda stats: None,
    poll_seconds: float = 1.0,
) -> ConsumeStats:
    """Consume until should_stop() is true; each batch is stored, then committed."""
    producer = f"kafka:{topic}"[:64]
    stats = ConsumeStats()
    consumer = Consumer(consumer_config(bootstrap, group))
    consumer.subscribe([topic])
    try:
        while not should_stop():
            # Wait for the first message only, then add what is already fetched, without waiting: waiting for
            # a full batch (consume(batch_size, timeout)) held a steady stream's events for up to poll_seconds
            # before storing any. Under a backlog librdkafka has prefetched plenty, so batches are full anyway.
            first = consumer.poll(poll_seconds)
            if first is None:
                continue
            messages = [first, *consumer.consume(num_messages=batch_size - 1, timeout=0)]
            events: list[tuple[Message, IncomingEvent]] = []
            rejected: list[tuple[Message, str]] = []
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(error)
                event, reason = read_message(message, topic)
                if event is None:
                    rejected.append((message, reason))
                else:
                    events.append((message, event))
            accepted = store_batch(events, rejected, producer=producer, topic=topic)
            try:
                consumer.commit(asynchronous=False)
            except KafkaException as exc:  # e.g. a rebalance took the partitions: the next owner re-reads, harmlessly
                logger.warning("Offsets not committed (%s); the batch will be read again and found stored.", exc)
            duplicates = sum(a.duplicate for a in accepted)
            stats.messages += len(messages)
            stats.stored += len(accepted) - duplicates
            stats.duplicates += duplicates
            stats.rejected += len(rejected)
            stats.batches += 1
            on_batch(stats)
    finally:
        consumer.close()  # leaves the group at once, so partitions move without waiting for the session timeout
    return stats


def store_batch(
    events: list[tuple[Message, IncomingEvent]], rejected: list[tuple[Message, str]], *, producer: str, topic: str
) -> list[Accepted]:
    """Store a batch's events and rejections; an event PostgreSQL refuses joins `rejected` (which is extended)."""
    try:
        with transaction.atomic():
            accepted = ingest_events([event for _, event in events], producer=producer)
            _mark_rejected(rejected, producer=producer, topic=topic)
        return accepted
    except _UNSTORABLE as exc:
        # read_message refuses what it knows PostgreSQL can't hold; this is the last resort for anything else.
        logger.warning("A batch of %d events could not be stored (%s); storing them one by one.", len(events), exc)
    accepted = []
    with transaction.atomic():
        for message, event in events:
            try:
                with transaction.atomic():  # a savepoint: a refused event leaves the others' rows in place
                    accepted += ingest_events([event], producer=producer)
            except _UNSTORABLE as exc:
                rejected.append((message, f"Could not be stored: {exc}"))
        _mark_rejected(rejected, producer=producer, topic=topic)
    return accepted


def _mark_rejected(rejected: list[tuple[Message, str]], *, producer: str, topic: str) -> None:
    for message, reason in rejected:
        raw = (message.value() or b"").decode(errors="replace")
        key = f"{topic}/{message.partition()}/{message.offset()}"
        mark_rejected(producer=producer, idempotency_key=key, raw=raw, reason=reason)
