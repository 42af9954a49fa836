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
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DATABASE = "postgresql://postgres@127.0.0.1:5432/pushcart_bench"
BENCH_REDIS = "redis://127.0.0.1:6379/14"

os.environ.update(
    DATABASE_URL=BENCH_DATABASE,
    REDIS_URL=BENCH_REDIS,
    CELERY_BROKER_URL=BENCH_REDIS,
    DJANGO_SETTINGS_MODULE="config.settings",
    PUSHCART_ENV_FILE=os.devnull,
)
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))
os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(40))
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    # Turn SIGTERM (e.g. from `timeout`) into an exception so that the workers,
    # the web process and the simulator started below are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--latency-samples", type=int, default=20)
    args = parser.parse_args()

    subprocess.run([sys.executable, "scripts/create_database.py"], cwd=ROOT, check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    import redis
    from django.db import connection

    from accounts.services import create_api_key
    from bench.processes import celery_worker, worker_environment
    from devices.models import Device
    from notifications.models import Notification
    from pushsim.control import free_port, running

    redis.Redis.from_url(BENCH_REDIS).flushdb()
    Notification.objects.all().delete()
    Device.objects.all().delete()
    Device.objects.bulk_create(
        Device(user_id=f"bench-{i}", platform="android", provider="fcm", token=f"bench-token-{i}")
        for i in range(args.devices)
    )
    Device.objects.create(user_id="buyer", platform="android", provider="fcm", token="bench-buyer")
    _, key = create_api_key(name="bench", scopes=["notifications:write"])
    connection.close()

    with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
        env = worker_environment(sim, settings_module="config.settings")
        port = free_port()
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--port",
                str(port),
                "--no-access-log",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            with celery_worker(env, "transactional", "transactional"), celery_worker(env, "marketing", "marketing"):
                wait_until_up(f"http://127.0.0.1:{port}/healthz")
                latencies = measure_latency(f"http://127.0.0.1:{port}", key, sim, args.latency_samples)
                rate, seconds = measure_fan_out(args.devices, sim)
        finally:
            web.terminate()
            web.wait(10)

    print(f"API call → provider accepted, transactional, {len(latencies)} sends one after another:")
    print(
        f"  median {statistics.median(latencies) * 1000:.0f} ms, worst {max(latencies) * 1000:.0f} ms, "
        f"best {min(latencies) * 1000:.0f} ms"
    )
    print(f"One marketing worker process, one promotion to {args.devices} devices:")
    print(f"  {rate:.0f} deliveries/s ({seconds:.1f} s from creation to the last provider-accepted)")


def wait_until_up(url: str) -> None:
    import httpx

    for _ in range(100):
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


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
            deadline = time.monotonic() + 30
            while sim.received("bench-buyer").get("bench-buyer", 0) == before:
                if time.monotonic() > deadline:
                    raise RuntimeError("a transactional notification was not delivered within 30 s")
                time.sleep(0.002)
            latencies.append(sim.messages("bench-buyer")[-1]["received_at"] - started)
            time.sleep(0.1)
    return latencies


def measure_fan_out(devices: int, sim) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """From creating the notifications to the last delivery recorded as provider-accepted."""
    from django.db.models import Max

    from notifications.creation import Content, create_notifications
    from notifications.models import Delivery, DeliveryStatus

    sim.reset()
    started = time.time()
    create_notifications(
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
    seconds = promotions.aggregate(last=Max("delivered_at"))["last"].timestamp() - started
    return devices / seconds, seconds


if __name__ == "__main__":
    main()
