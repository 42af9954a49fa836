"""Business events end to end, with real processes: REST batch → stored → worker → provider (pushsim).

    .venv/bin/python -m bench.events [--events 20000] [--clients 1] [--latency-samples 20]

Runs on the benchmark's own database and Redis (see bench/stack.py), with its own simulator, one web
process (uvicorn) and one worker process on the events' queue. Measures:
1. events per second accepted by POST /api/v1/events/ in batches of 500 (--clients concurrent senders),
   and how long the worker takes to apply the rules to all of them (abandoned-cart updates: each makes a
   waiting send, the heaviest rule);
2. event accepted → provider accepted for an order-cancelled event (median and worst of --latency-samples,
   one after another).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.processes import web_process
from bench.stack import empty_tables, prepare_database, wait_for_push

BATCH = 500


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop the processes started below
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=1, help="Concurrent senders of batches.")
    parser.add_argument("--latency-samples", type=int, default=20)
    args = parser.parse_args()

    prepare_database()
    from django.db import connection

    from accounts.services import create_api_key
    from bench.processes import celery_worker, worker_environment
    from devices.models import Device
    from pushsim.control import running

    empty_tables("notifications_notification", "events_event", "devices_device")
    Device.objects.create(user_id="buyer", platform="android", provider="fcm", token="bench-buyer", locale="de-DE")
    _, key = create_api_key(name="bench-events", scopes=["events:write"])
    connection.close()

    with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
        env = worker_environment(sim, settings_module="config.settings")
        with web_process(env) as base, celery_worker(env, "transactional", "events"):
            latencies = measure_latency(base, key, sim, args.latency_samples)
            accepted_per_second, processed_after = measure_ingest(base, key, args.events, args.clients)

    print(f"POST /api/v1/events/, batches of {BATCH}, {args.clients} client(s), one web process, {args.events} events:")
    print(f"  {accepted_per_second:,.0f} events/s accepted")
    print(f"  all processed by one worker {processed_after:.1f} s after the first was sent")
    print(f"Order-cancelled event accepted → provider accepted, {len(latencies)} events one after another:")
    print(
        f"  median {statistics.median(latencies) * 1000:.0f} ms, worst {max(latencies) * 1000:.0f} ms, "
        f"best {min(latencies) * 1000:.0f} ms"
    )


def cart_update(n: int) -> dict:
    return {
        "type": "cart_updated",
        "user_id": f"shopper-{n}",
        "idempotency_key": f"bench-cart-{n}",
        "data": {"cart_id": f"cart-{n}", "item_count": 1 + n % 5, "first_item": "Oat milk"},
    }


def measure_ingest(base: str, key: str, total: int, clients: int) -> tuple[float, float]:
    import httpx

    from events.models import Event, EventStatus

    batches = [[cart_update(n) for n in range(start, min(start + BATCH, total))] for start in range(0, total, BATCH)]

    def send(batch: list[dict]) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Api-Key {key}"}, timeout=60) as client:
            answer = client.post("/api/v1/events/", json={"events": batch})
            assert answer.status_code == 202, answer.text
            assert answer.json()["accepted"] == len(batch)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, batches))
    accepted_per_second = total / (time.perf_counter() - started)
    deadline = time.monotonic() + 600
    while Event.objects.filter(status=EventStatus.RECEIVED).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not process the events within 600 s")
        time.sleep(0.2)
    processed_after = time.perf_counter() - started
    return accepted_per_second, processed_after


def measure_latency(base: str, key: str, sim, samples: int) -> list[float]:  # type: ignore[no-untyped-def]
    import httpx

    latencies = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Api-Key {key}"}) as client:
        for n in range(samples + 1):  # the first warms up connections and the provider's access token
            event = {
                "type": "order_status_changed",
                "user_id": "buyer",
                "idempotency_key": f"bench-order-{n}",
                "data": {"order_id": str(1000 + n), "status": "cancelled", "reason": "out of stock"},
            }
            before = sim.received("bench-buyer").get("bench-buyer", 0)
            started = time.time()
            answer = client.post("/api/v1/events/", json=event)
            assert answer.status_code == 202, answer.text
            arrived = wait_for_push(sim, "bench-buyer", before)
            if n:
                latencies.append(arrived - started)
            time.sleep(0.1)
    [last] = sim.messages("bench-buyer")[-1:]
    assert last["payload"]["notification"]["title"].startswith("Bestellung"), last  # rendered, in German
    return latencies


if __name__ == "__main__":
    main()
