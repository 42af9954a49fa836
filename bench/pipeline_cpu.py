"""CPU per delivery of each stage of a campaign's sending path, in this one process.

    .venv/bin/python -m bench.pipeline_cpu [--devices 20000] [--profile 40] [--warm-cache]

Builds the benchmark's mixed shop (see bench.scenarios.SHOP_SQL), starts the simulator and runs a
campaign's pages the way the marketing workers do, without Celery in between: `fan_out_page`, then
each of its batches (campaigns.batches.send: tokens, shopper protection, providers called, notifications
and deliveries written). Prints the CPU time of this process (every thread,
the providers' event loop included) per delivery for each stage, and PostgreSQL's and the simulator's. The Celery
tasks' own overhead is not in these figures; `python -m bench` measures the whole.

With --profile N, yappi (CPU clock, all threads) prints the N functions costing most, inclusive and own.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.measure import postgres_cpu_seconds
from bench.stack import prepare_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="Print yappi's top N functions.")
    parser.add_argument("--warm-cache", action="store_true", help="Load the token cache before measuring.")
    parser.add_argument(
        "--default-gc", action="store_true", help="Leave garbage collection as Python sets it (workers tune it)."
    )
    args = parser.parse_args()

    prepare_database()
    from django.conf import settings

    from bench.providers import use_simulator
    from bench.scenarios import build_shop
    from pushsim.control import running

    settings.DATABASE_SYNCHRONOUS_COMMIT = "off"  # as the marketing workers run
    with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
        use_simulator(sim)
        template_id, segment_id = build_shop(sim, args.devices)
        measure(sim, template_id, segment_id, args)


def measure(sim, template_id: int, segment_id: int, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    from audience.models import Segment
    from campaigns import batches
    from campaigns.fanout import fan_out_page
    from campaigns.models import BatchStatus, Campaign, CampaignBatch, CampaignRun, CampaignStatus
    from config.celery import tune_garbage_collection
    from devices.models import Device
    from devices.token_cache import tokens_for_users
    from notifications.models import Delivery, DeliveryStatus
    from providers.runtime import runtime
    from templates.models import MessageTemplate

    campaign = Campaign.objects.create(
        name="pipeline cpu",
        template=MessageTemplate.objects.get(pk=template_id),
        segment=Segment.objects.get(pk=segment_id),
        context={"discount": "20%", "category": "fruit"},
        status=CampaignStatus.SENDING,
    )
    run = CampaignRun.objects.create(campaign=campaign)
    if args.warm_cache:
        users = list(Device.objects.values_list("user_id", flat=True))
        for start in range(0, len(users), 1000):
            tokens_for_users(users[start : start + 1000])
    runtime.reset()  # connections and provider tokens are made in the first page, as in a fresh worker
    if not args.default_gc:
        tune_garbage_collection()  # as each worker process does when it starts

    profiler = None
    if args.profile:
        import yappi  # bench/requirements.txt

        yappi.set_clock_type("cpu")
        yappi.start(builtins=False)
        profiler = yappi
    fan_out_cpu = process_cpu = 0.0
    sim_cpu = sim.cpu_seconds()
    postgres_cpu = postgres_cpu_seconds()
    wall = time.perf_counter()
    cursor: str | None = ""
    while cursor is not None:
        started = time.process_time()
        cursor = fan_out_page(run.pk, cursor)
        fan_out_cpu += time.process_time() - started
        waiting = CampaignBatch.objects.filter(run=run, status=BatchStatus.PENDING).order_by("pk")
        for batch_id in list(waiting.values_list("pk", flat=True)):
            started = time.process_time()
            batches.send(batch_id)
            process_cpu += time.process_time() - started
    wall = time.perf_counter() - wall
    sim_cpu = sim.cpu_seconds() - sim_cpu
    postgres_cpu = postgres_cpu_seconds() - postgres_cpu
    if profiler is not None:
        profiler.stop()
    runtime.reset()
    delivered = Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count()
    print(f"{delivered:,} of {args.devices:,} devices delivered in {wall:.1f} s (one process, sequential)")
    print(f"  fan-out pages          {fan_out_cpu / delivered * 1e6:7.0f} µs CPU per delivery")
    print(f"  batches sent           {process_cpu / delivered * 1e6:7.0f} µs CPU per delivery")
    print(f"  postgres (all processes) {postgres_cpu / delivered * 1e6:5.0f} µs CPU per delivery")
    print(f"  simulator              {sim_cpu / delivered * 1e6:7.0f} µs CPU per delivery")
    if profiler is not None:
        print_profile(profiler, args.profile, delivered)


def print_profile(yappi, top: int, deliveries: int) -> None:  # type: ignore[no-untyped-def]
    stats = yappi.get_func_stats()
    for sort, label in (("ttot", "inclusive"), ("tsub", "own")):
        print(f"\ntop {top} by {label} CPU, µs per delivery")
        stats.sort(sort, "desc")
        for entry in list(stats)[:top]:
            value = entry.ttot if sort == "ttot" else entry.tsub
            where = entry.module.replace(str(Path(__file__).resolve().parents[1]) + "/", "")
            where = where.split("site-packages/")[-1]
            print(f"  {value / deliveries * 1e6:8.1f}  {entry.name} ({where}:{entry.lineno}) x{entry.ncall}")


if __name__ == "__main__":
    main()
