"""python manage.py consume_events: business events from a Kafka topic into Pushcart."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.kafka import ConsumeStats, consume

PROGRESS_SECONDS = 1.0


class Command(BaseCommand):
    help = (
        "Read events from a Kafka topic (consumer group; offsets committed after the events are stored) and "
        "store them as POST /api/v1/events/ does. Stops cleanly on SIGTERM or Ctrl-C after the current batch."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bootstrap", default=settings.KAFKA_BOOTSTRAP_SERVERS, help="host:port[,host:port]")
        parser.add_argument("--topic", default=settings.KAFKA_EVENTS_TOPIC)
        parser.add_argument("--group", default=settings.KAFKA_CONSUMER_GROUP)
        parser.add_argument("--batch-size", type=int, default=500, help="Events stored per transaction and commit.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["bootstrap"]:
            raise CommandError("No Kafka brokers: pass --bootstrap or set KAFKA_BOOTSTRAP_SERVERS.")
        if not 1 <= options["batch_size"] <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000.")
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        started = time.monotonic()
        self.stdout.write(
            f"Consuming {options['topic']} from {options['bootstrap']} as group {options['group']}…", ending="\n"
        )
        self.stdout.flush()

        # A steady stream is stored in small batches, dozens a second (bench.kafka): their progress is printed
        # at most once a second, and the last batch's once the topic is quiet (should_stop is asked after every
        # batch and every empty poll).
        printed_at = 0.0
        unprinted: ConsumeStats | None = None

        def print_progress(force: bool = False) -> None:
            nonlocal printed_at, unprinted
            if unprinted is None or (not force and time.monotonic() - printed_at < PROGRESS_SECONDS):
                return
            stats, unprinted, printed_at = unprinted, None, time.monotonic()
            rate = stats.messages / max(printed_at - started, 1e-6)
            self.stdout.write(
                f"{stats.messages:,} messages: {stats.stored:,} stored, {stats.duplicates:,} duplicates, "
                f"{stats.rejected:,} rejected ({rate:,.0f}/s, {stats.batches:,} batches)"
            )
            self.stdout.flush()

        def on_batch(stats: ConsumeStats) -> None:
            nonlocal unprinted
            unprinted = stats
            print_progress()

        def should_stop() -> bool:
            print_progress()
            return stopping

        stats = consume(
            bootstrap=options["bootstrap"],
            topic=options["topic"],
            group=options["group"],
            batch_size=options["batch_size"],
            should_stop=should_stop,
            on_batch=on_batch,
        )
        print_progress(force=True)
        self.stdout.write(self.style.SUCCESS(f"Stopped after {stats.messages:,} messages ({stats.stored:,} stored)."))
