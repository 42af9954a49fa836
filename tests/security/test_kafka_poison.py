"""Poison messages on the events topic: each is kept as a rejected event, its offset committed, the consumer alive.

Before the fix, deeply nested JSON (RecursionError), a 5,000-digit integer (Python's int-string conversion limit)
and `\\u0000` in data (PostgreSQL refuses NUL in text and jsonb, failing the whole batch's INSERT) each killed
`consume_events` with nothing committed, so the partition was blocked for good.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import Message, TopicPartition

from bench.kafka_broker import create_topic, running_broker
from config.parsers import MAX_DEPTH
from events.ingest import IncomingEvent
from events.kafka import read_message, store_batch
from events.models import Event, EventStatus
from tests.events.test_kafka import Consumer, order_event, produce
from tests.waiting import wait_for


def _event(data: str) -> bytes:
    """An order event whose `data` is the given JSON text, as a producer could write it."""
    return b'{"type": "order_status_changed", "user_id": "u-poison", "data": ' + data.encode() + b"}"


# Each poison message, and what its rejection's reason must say.
POISON = {
    "nested past the recursion limit": (_event("[" * 5000 + "]" * 5000), "nested too deeply"),
    "nested past MAX_DEPTH": (_event("[" * 200 + "]" * 200), f"Nested deeper than {MAX_DEPTH} levels"),
    "a 5,000-digit integer": (_event('{"n": ' + "9" * 5000 + "}"), "integer string conversion"),
    "NUL in a data value": (_event('{"note": "a\\u0000b"}'), "data.note: Contains \\u0000"),
    "NUL in a data key": (_event('{"a\\u0000": 1}'), "data: A key contains \\u0000"),
    "NUL in the user id": (b'{"type": "order_status_changed", "user_id": "u\\u0000"}', "user_id: Contains \\u0000"),
    "a raw NUL byte": (b'{"type": "order_status_changed\x00", "user_id": "u"}', "Not JSON"),
    "a lone surrogate": (_event('{"note": "\\ud800"}'), "data.note: Contains \\u0000 or a lone surrogate"),
    "NaN": (_event('{"price": NaN}'), "data.price: Is a number too large to store"),
    "an infinite number": (_event('{"price": 1e999}'), "data.price: Is a number too large to store"),
}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_broker(tmp_path_factory.mktemp("tansu")) as bootstrap:
        yield bootstrap


@pytest.mark.django_db(transaction=True)  # the consumer is another process: it must see committed rows
def test_each_poison_message_is_rejected_and_the_good_events_around_it_are_stored(broker: str) -> None:
    topic = "shop.events.poison"
    create_topic(broker, topic)
    values, poison_offsets = [], {}
    for n, (name, (value, _)) in enumerate(POISON.items()):
        values.append(order_event(n))  # a good event on each side of each poison message, in the same batch
        poison_offsets[len(values)] = name
        values.append(value)
    values.append(order_event(len(POISON)))
    produce(broker, topic, values)

    consumer = Consumer(broker, topic, "pushcart-poison")  # batches of up to 25: good and poison share batches
    try:
        died = lambda: consumer.process.poll() is not None  # noqa: E731 - the consumer died on a message
        wait_for(lambda: died() or Event.objects.count() == len(values), 30, "every message stored or rejected")
        wait_for(lambda: died() or f"{len(values)} messages:" in "".join(consumer.output), 10, "the progress line")
        assert not died(), "".join(consumer.output)  # still consuming
    finally:
        exit_code = consumer.stop()
    assert exit_code == 0, "".join(consumer.output)

    good = Event.objects.exclude(status=EventStatus.REJECTED)
    assert sorted(good.values_list("idempotency_key", flat=True)) == sorted(
        f"order-{n}" for n in range(len(POISON) + 1)
    )
    rejected = {e.idempotency_key: e for e in Event.objects.filter(status=EventStatus.REJECTED)}
    assert set(rejected) == {f"{topic}/0/{offset}" for offset in poison_offsets}
    for offset, name in poison_offsets.items():
        event = rejected[f"{topic}/0/{offset}"]
        assert POISON[name][1] in event.outcome, (name, event.outcome)
        assert event.data["raw"], name  # the message is kept (truncated, NUL made storable)
    raw_nul = next(offset for offset, name in poison_offsets.items() if name == "a raw NUL byte")
    kept_raw = rejected[f"{topic}/0/{raw_nul}"].data["raw"]
    assert kept_raw == '{"type": "order_status_changed\ufffd", "user_id": "u"}'  # the NUL byte made storable
    progress = [line for line in consumer.output if f"{len(values)} messages:" in line][-1]
    assert f"{len(POISON) + 1} stored, 0 duplicates, {len(POISON)} rejected" in progress, progress

    # Every offset was committed: the group's position is past the last message, nothing is read again.
    group = KafkaConsumer({"bootstrap.servers": broker, "group.id": "pushcart-poison"})
    try:
        [position] = group.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        group.close()
    assert position.offset == len(values)


def _message(offset: int, value: bytes) -> Message:
    return Message(topic="t", partition=0, offset=offset, value=value)


@pytest.mark.django_db
def test_a_batch_insert_that_postgresql_refuses_is_stored_event_by_event() -> None:
    """The last resort, for a value read_message did not foresee: the batch's good events still get stored."""
    good = [(_message(n, order_event(n)), IncomingEvent("order_status_changed", f"u{n}", f"order-{n}")) for n in (0, 2)]
    refused = (_message(1, b'{"raw": "kept"}'), IncomingEvent("order_status_changed", "u1", "order-1", {"x": "a\x00"}))
    not_json = (_message(3, b"{not json\x00"), "Not JSON: Expecting property name")
    rejected = [not_json]

    accepted = store_batch([good[0], refused, good[1]], rejected, producer="kafka:t", topic="t")

    assert [a.idempotency_key for a in accepted] == ["order-0", "order-2"]
    stored = Event.objects.exclude(status=EventStatus.REJECTED)
    assert sorted(stored.values_list("idempotency_key", flat=True)) == ["order-0", "order-2"]
    kept = {e.idempotency_key: e for e in Event.objects.filter(status=EventStatus.REJECTED)}
    assert set(kept) == {"t/0/1", "t/0/3"}
    assert kept["t/0/1"].outcome.startswith("Could not be stored:"), kept["t/0/1"].outcome
    assert kept["t/0/3"].data == {"raw": "{not json\ufffd"}  # the NUL byte itself made storable


@pytest.mark.parametrize("name", POISON)
def test_read_message_names_the_reason_without_raising(name: str) -> None:
    value, reason = POISON[name]
    event, why = read_message(_message(7, value), "t")
    assert event is None and reason in why, why
    assert read_message(_message(8, json.dumps({"type": "a", "user_id": "u"}).encode()), "t")[0] is not None
