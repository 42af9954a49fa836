"""The delivery engine end to end, with real processes: API → Celery → provider (pushsim).

    .venv/bin/python -m bench.engine [--devices 10000] [--latency-samples 20]

Runs on its own database (`pushcart_bench`, created and migrated) and Redis
database 14, with its own simulator, a web process (uvicorn), one
transactional worker and one marketing worker (one process each). Measures:
1. API call → provider accepted, for one transactional notification
   (median and worst of --latency-samples, one after another);
2. deliveries per second of one worker process sending one promotion to
   --devices Android devices.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.processes import web_process
from bench.stack import empty_tables, prepare_database, wait_for_push


def main() -> None:
    # Turn SIGTERM (e.g. from `timeout`) into an exception so that the workers,
    # the web process and the simulator started below are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--latency-samples", type=int, default=20)
    args = parser.parse_args()

    prepare_database()
    from django.db import connection

    from accounts.services import create_api_key
    from bench.processes import celery_worker, worker_environment
    from devices.models import Device
    from pushsim.control import running

    empty_tables("notifications_notification", "devices_device")
    Device.objects.bulk_create(
        Device(user_id=f"bench-{i}", platform="android", provider="fcm", token=f"bench-token-{i}")
        for i in range(args.devices)
    )
    Device.objects.create(user_id="buyer", platform="android", provider="fcm", token="bench-buyer")
    _, key = create_api_key(name="bench", scopes=["notifications:write"])
    connection.close()

    with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
        env = worker_environment(sim, settings_module="config.settings")
        with (
            web_process(env) as base,
            celery_worker(env, "transactional", "transactional"),
            celery_worker(env, "marketing", "marketing"),
        ):
            latencies = measure_latency(base, key, sim, args.latency_samples)
            rate, seconds = measure_fan_out(args.devices, sim)

    print(f"API call → provider accepted, transactional, {len(latencies)} sends one after another:")
    print(
        f"  median {statistics.median(latencies) * 1000:.0f} ms, worst {max(latencies) * 1000:.0f} ms, "
        f"best {min(latencies) * 1000:.0f} ms"
    )
    print(f"One marketing worker process, one promotion to {args.devices} devices:")
    print(f"  {rate:.0f} deliveries/s ({seconds:.1f} s from creation to the last provider-accepted)")


def measure_latency(base: str, key: str, sim, samples: int) -> list[float]:  # type: ignore[no-untyped-def]
    import httpx

    body = {"user_id": "buyer", "title": "Order 1 is on its way", "body": "Arriving soon", "category": "order_updates"}
    latencies = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Api-Key {key}"}) as client:
        client.post("/api/v1/notifications/", json=body)  # warm-up: connections, provider token
        time.sleep(1)
        for _ in range(samples):
            before = sim.received("bench-buyer").get("bench-buyer", 0)
            started = time.time()
            answer = client.post("/api/v1/notifications/", json=body)
            assert answer.status_code == 202, answer.text
            latencies.append(wait_for_push(sim, "bench-buyer", before) - started)
            time.sleep(0.1)
    return latencies


def measure_fan_out(devices: int, sim) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """From creating the notifications to the last delivery recorded as provider-accepted."""
    from django.db.models import Max

    from notifications.engine import Content, submit
    from notifications.models import Delivery, DeliveryStatus

    sim.reset()
    started = time.time()
    submit(
        user_ids=[f"bench-{i}" for i in range(devices)],
        content=Content(title="Weekend deals", body="-20% on fruit", category="promotions"),
        source="api",
    )
    promotions = Delivery.objects.filter(notification__category="promotions", status=DeliveryStatus.DELIVERED)
    deadline = time.monotonic() + 600
    while promotions.count() < devices:
        if time.monotonic() > deadline:
            from django.db.models import Count

            states = Delivery.objects.values("status").annotate(n=Count("pk"))
            raise RuntimeError(f"fan-out did not finish in 600 s: {list(states)}")
        time.sleep(0.2)
    assert len(sim.received("bench-token-")) == devices
    seconds = promotions.aggregate(last=Max("updated_at"))["last"].timestamp() - started
    return devices / seconds, seconds


if __name__ == "__main__":
    main()
