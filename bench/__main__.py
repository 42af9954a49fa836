"""The whole pipeline in one run: `python -m bench` (see --help; --quick finishes in under 2 minutes).

Builds a synthetic shop in the benchmark database (Android 60%, iOS 30%, web 10%; four locales, five time
zones), starts the simulator, one web process and real Celery workers, and runs:
  ceiling   a bare asynchronous HTTP client against the simulator: what any pipeline could reach here
  fanout    one campaign to every device: deliveries a minute, time to the first, workers' peak memory,
            and CPU per delivery of the workers, web, PostgreSQL, Redis and the simulator
  events    order events through the REST batch endpoint: events/s accepted, accepted → pushed latency
  priority  order events at a steady rate while the campaign fans out: their latency
  faults    the campaign with 5% 503s and 1% 429s (Retry-After): throughput, every delivery accounted for
  failover  a throttled campaign and order events on a PostgreSQL server of its own, restarted, then crashed
            (5 s down), then the marketing worker killed: per device, lost and pushed twice; time to complete
            against the same run without faults (bench/failover.py)
  api       the REST API loaded as clients arrive: single requests in the shop's mix at a fixed rate (open loop),
            833/s (50,000 a minute), the knee (highest rate holding the bounds) and 3x the knee (bench/api.py)
  baseline  django-push-notifications from Celery tasks, as its documentation shows, to the same simulator
Results: bench/results/latest.{json,md,png} (and a timestamped JSON), and the table printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ALL = ["ceiling", "fanout", "events", "priority", "faults", "failover", "api", "baseline"]


def ensure_requirements() -> None:
    missing = [m for m in ("push_notifications", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"bench: installing bench/requirements.txt ({', '.join(missing)} missing)", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "-r", str(ROOT / "bench" / "requirements.txt")], check=True
        )


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop the processes started below
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=100_000, help="Campaign audience (scenarios 1, 3, 4, 5).")
    parser.add_argument("--events", type=int, default=20_000, help="Order events of the burst (scenario 2).")
    parser.add_argument("--order-rate", type=float, default=20, help="Order events/s during the campaign (3).")
    parser.add_argument("--workers", type=int, default=1, help="Marketing worker processes (Celery prefork).")
    parser.add_argument("--concurrency", type=int, default=4, help="Children per marketing worker.")
    parser.add_argument("--scenarios", default=",".join(ALL), help=f"Comma-separated, from: {', '.join(ALL)}.")
    parser.add_argument("--failover-devices", type=int, default=20_000, help="The failover's campaign audience.")
    parser.add_argument("--quick", action="store_true", help="10,000 devices, 2,000 events: under 2 minutes.")
    args = parser.parse_args()
    if args.quick:
        args.devices, args.events, args.failover_devices = 10_000, 2_000, 5_000
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - set(ALL)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    ensure_requirements()
    run(args, scenarios)


def run(args: argparse.Namespace, scenarios: list[str]) -> None:
    from bench.stack import prepare_database

    started = time.time()
    prepare_database()
    from django.db import connection

    from accounts.services import create_api_key
    from bench import api, report
    from bench.measure import processes
    from bench.processes import celery_beat, celery_worker, web_process, worker_environment
    from bench.providers import ceiling
    from bench.scenarios import (
        Stack,
        baseline,
        build_shop,
        event_burst,
        fan_out,
        faults,
        priority_under_load,
    )
    from pushsim.control import running

    results: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "args": vars(args), "scenarios": {}}
    with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
        print(f"bench: a shop of {args.devices:,} devices…", flush=True)
        template_id, segment_id = build_shop(sim, args.devices)
        _, key = create_api_key(name="bench", scopes=["events:write"])
        connection.close()
        env = worker_environment(
            sim,
            settings_module="config.settings",
            DELIVERY_BACKOFF_BASE_SECONDS="0.5",
            DELIVERY_BACKOFF_CAP_SECONDS="5",
        )
        if "ceiling" in scenarios:
            _, _, rate, client_cpu, sim_cpu = ceiling(sim, min(args.devices, 20_000))
            results["scenarios"]["ceiling"] = {
                "per_second": rate,
                "per_minute": rate * 60,
                "client_cpu_us": client_cpu,
                "sim_cpu_us": sim_cpu,
            }
            print(f"bench: ceiling {rate * 60:,.0f}/min", flush=True)
        pushcart = [s for s in scenarios if s in ("fanout", "events", "priority", "faults", "api")]
        if pushcart:
            with ExitStack() as started_processes:
                base = started_processes.enter_context(web_process(env))
                beat = started_processes.enter_context(celery_beat(env))
                tx = started_processes.enter_context(
                    celery_worker(env, "transactional", "transactional", concurrency=3)
                )
                workers = [
                    started_processes.enter_context(
                        # As in the Procfile: niced, so that order updates get the CPU first when both are busy,
                        # and committing without waiting for the WAL flush.
                        celery_worker(
                            {**env, "DATABASE_SYNCHRONOUS_COMMIT": "off"},
                            "marketing,default",
                            f"marketing-{i}",
                            concurrency=args.concurrency,
                            nice=19,
                        )
                    )
                    for i in range(args.workers)
                ]
                stack = Stack(
                    base,
                    key,
                    sim,
                    [tx.process.pid, beat.pid, *(w.process.pid for w in workers)],
                    processes(cmdline="uvicorn config.asgi"),
                    template_id,
                    segment_id,
                    args.devices,
                )
                runners = {
                    "fanout": lambda: fan_out(stack),
                    "events": lambda: event_burst(stack, args.events),
                    "priority": lambda: priority_under_load(stack, args.order_rate),
                    "faults": lambda: faults(stack, args.devices),
                    "api": lambda: api.scenario(stack, quick=args.quick),
                }
                for name in pushcart:
                    print(f"bench: {name}…", flush=True)
                    results["scenarios"][name] = runners[name]()
        if "failover" in scenarios:  # its own PostgreSQL server and processes, after the others have stopped
            from bench import failover

            print("bench: failover…", flush=True)
            plan = failover.Plan.sized(args.failover_devices)
            results["scenarios"]["failover"] = failover.scenario(sim, plan)
        if "baseline" in scenarios:
            print("bench: baseline…", flush=True)
            stack = Stack("", "", sim, [], [], template_id, segment_id, args.devices)
            results["scenarios"]["baseline"] = baseline(stack, args.devices, args.concurrency * args.workers, env)
    results["seconds"] = time.time() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    table = report.write(results, RESULTS)
    print(table)


if __name__ == "__main__":
    main()
