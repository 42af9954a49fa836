"""A campaign's fan-out to provider-accepted, and the workers' peak memory, at two audience sizes.

    .venv/bin/python -m bench.campaigns [--sizes 10000 100000] [--concurrency 2]

For each size: a synthetic audience of that many Android shoppers (one device each) in the benchmark
database, a fresh simulator and a fresh Celery worker (prefork, --concurrency children, marketing and
transactional queues), one campaign "send now" to a segment of all of them. Measures launch → first and
last delivery recorded as provider-accepted, and the peak resident memory (VmHWM) of every worker process.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import peak_rss_mb, processes
from bench.stack import empty_tables, prepare_database

AUDIENCE_SQL = """
INSERT INTO devices_device (user_id, platform, provider, token, locale, timezone, app_id, app_version,
    web_push_p256dh, web_push_auth, last_seen_at, created_at, is_active, deactivation_reason)
SELECT 'fan-' || lpad(g::text, 8, '0'), 'android', 'fcm', 'fan-token-' || g, 'en-GB', 'Europe/London', 'shop',
       '4.2.0', '', '', now(), now(), true, ''
FROM generate_series(0, %s - 1) AS g
"""


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    prepare_database()
    from django.db import connection
    from django.db.models import Max, Min

    from audience.models import Segment
    from bench.processes import celery_worker, worker_environment
    from campaigns import services
    from campaigns.models import Campaign
    from devices.models import Device
    from notifications.models import Delivery, DeliveryStatus, Notification
    from pushsim.control import running
    from templates.models import MessageTemplate

    template, _ = MessageTemplate.objects.get_or_create(
        key="bench_promo", defaults={"name": "bench", "category": "promotions", "title": "Deals", "body": "-20%"}
    )
    rows = []
    for size in args.sizes:
        with connection.cursor() as cursor:
            empty_tables("notifications_notification", "campaigns_campaign", "devices_device")
            cursor.execute(AUDIENCE_SQL, [size])
            cursor.execute("ANALYZE devices_device")
        import redis

        from bench.stack import BENCH_REDIS

        redis.Redis.from_url(BENCH_REDIS).flushdb()
        segment, _ = Segment.objects.get_or_create(name="everyone")
        assert Device.objects.count() == size
        connection.close()
        with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
            env = worker_environment(sim, settings_module="config.settings")
            with celery_worker(env, "marketing,transactional", "fanout", concurrency=args.concurrency) as worker:
                campaign = Campaign.objects.create(name=f"bench {size}", template=template, segment=segment)
                started = time.time()
                services.launch(campaign)
                delivered = Delivery.objects.filter(status=DeliveryStatus.DELIVERED)
                deadline = time.monotonic() + 1800
                while delivered.count() < size:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"fan-out not finished: {delivered.count()} of {size}")
                    time.sleep(0.5)
                span = delivered.aggregate(first=Min("updated_at"), last=Max("updated_at"))
                peaks = peak_rss_mb(processes(pgid=worker.process.pid))
            assert Notification.objects.count() == size
            # The simulator remembers the last 50,000 tokens only; its counters count every request.
            assert sim.stats()["providers"]["fcm"].get("ok", 0) == size, sim.stats()
        seconds = span["last"].timestamp() - started
        rows.append((size, seconds, span["first"].timestamp() - started, size / seconds * 60, peaks))
        connection.close()

    print(f"Campaign fan-out, one worker (prefork, {args.concurrency} children), send now, Android devices:")
    for size, seconds, first, per_minute, peaks in rows:
        memory = ", ".join(f"{mb:.0f}" for mb in sorted(peaks.values(), reverse=True))
        print(
            f"  {size:>9,} devices: {seconds:6.1f} s to the last provider-accepted ({per_minute:,.0f}/min), "
            f"first after {first:.2f} s; peak RSS per worker process (MB): {memory}"
        )


if __name__ == "__main__":
    main()
