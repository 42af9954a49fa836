"""`manage.py consume_events` against a real Kafka-protocol broker (Tansu, started by the test).

Each event is stored once across consumer restarts and crashes: offsets are committed only after a batch is
stored, and a batch read again after a crash is answered as duplicates by the idempotent store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from bench.kafka_broker import create_topic, running_broker
from bench.processes import ROOT, database_environment
from events.ingest import IncomingEvent, ingest_events
from events.models import Event, EventStatus
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOPIC = "shop.events"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_broker(tmp_path_factory.mktemp("tansu")) as bootstrap:
        yield bootstrap


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(10) == 0


def order_event(n: int, with_key: bool = True) -> bytes:
    event = {"type": "order_status_changed", "user_id": f"u{n}", "data": {"order_id": str(n), "status": "shipped"}}
    if with_key:
        event["idempotency_key"] = f"order-{n}"
    return json.dumps(event).encode()


class Consumer:
    """`manage.py consume_events` as its own process, its output collected."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        env = database_environment(KAFKA_SESSION_TIMEOUT_MS="2000")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "manage.py", "consume_events"),
                *("--bootstrap", bootstrap, "--topic", topic, "--group", group, "--batch-size", "25"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)


def test_each_event_is_stored_once_across_a_crash_and_a_restart(broker: str) -> None:
    topic = f"{TOPIC}.crash"
    create_topic(broker, topic)
    values = [order_event(n) for n in range(400)] + [order_event(n, with_key=False) for n in range(400, 450)]
    values += [b"{not json", json.dumps({"type": "order_status_changed", "data": {}}).encode()]
    produce(broker, topic, values)

    first = Consumer(broker, topic, "pushcart-crash")
    try:
        wait_for(lambda: Event.objects.count() >= 150, 30, "the first consumer to store some events")
    finally:
        first.kill()  # no clean shutdown: whatever it stored and did not commit is read again
    stored_before_crash = Event.objects.count()
    assert stored_before_crash < len(values)

    second = Consumer(broker, topic, "pushcart-crash")
    wait_for(lambda: Event.objects.count() == len(values), 60, "the restarted consumer to catch up")
    assert second.stop() == 0, "".join(second.output)

    assert Event.objects.count() == len(values)  # nothing lost, nothing twice (keys are unique per producer)
    keys = set(Event.objects.values_list("idempotency_key", flat=True))
    assert {f"order-{n}" for n in range(400)} <= keys
    assert {f"{topic}/0/{offset}" for offset in range(400, 450)} <= keys  # no key: the message's place in the log
    rejected = Event.objects.filter(status=EventStatus.REJECTED).order_by("idempotency_key")
    assert [r.idempotency_key for r in rejected] == [f"{topic}/0/450", f"{topic}/0/451"]
    assert rejected[0].outcome.startswith("Not JSON") and rejected[0].data == {"raw": "{not json"}
    assert "user_id" in rejected[1].outcome and "idempotency_key" not in rejected[1].outcome
    assert "Stopped after" in second.output[-1]


def test_a_batch_stored_but_not_committed_is_read_again_and_found_duplicate(broker: str) -> None:
    topic = f"{TOPIC}.uncommitted"
    create_topic(broker, topic)
    produce(broker, topic, [order_event(n) for n in range(100)])
    # As if an earlier consumer stored the first 60 and died before committing its offsets.
    ingest_events(
        [IncomingEvent("order_status_changed", f"u{n}", f"order-{n}", {"status": "shipped"}) for n in range(60)],
        producer=f"kafka:{topic}",
    )
    consumer = Consumer(broker, topic, "pushcart-uncommitted")
    wait_for(lambda: Event.objects.count() == 100, 30, "the consumer to catch up")
    wait_for(lambda: "100 messages:" in "".join(consumer.output), 10, "the progress line for 100 messages")
    assert consumer.stop() == 0
    progress = [line for line in consumer.output if "100 messages:" in line][-1]
    assert "40 stored, 60 duplicates, 0 rejected" in progress, progress
    assert Event.objects.count() == 100


def test_a_few_messages_are_stored_at_once_without_waiting_for_a_full_batch(broker: str) -> None:
    topic = f"{TOPIC}.prompt"
    create_topic(broker, topic)
    consumer = Consumer(broker, topic, "pushcart-prompt")  # batches of up to 25, polling for 1 s
    produce(broker, topic, [order_event(0)])
    wait_for(lambda: Event.objects.count() == 1, 30, "the consumer to join its group and store the first event")

    sent = time.time()
    produce(broker, topic, [order_event(n) for n in range(1, 4)])
    wait_for(lambda: Event.objects.count() == 4, 10, "the next three events")
    assert consumer.stop() == 0, "".join(consumer.output)
    stored = max(Event.objects.values_list("received_at", flat=True)).timestamp()
    # Waiting for 22 more messages that never come would have stored them a whole poll (1 s) later.
    assert stored - sent < 0.8, stored - sent


def test_the_command_refuses_to_start_without_brokers(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "consume_events"],
        cwd=ROOT,
        env=database_environment(KAFKA_BOOTSTRAP_SERVERS=""),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "No Kafka brokers" in result.stderr
