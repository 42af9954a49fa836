"""The scenarios of `python -m bench`, each against the real PostgreSQL, Redis, Celery and the simulator."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from django.db import connection

if TYPE_CHECKING:
    from templates.models import MessageTemplate

from bench.measure import cpu_seconds, peak_rss_mb, percentile, postgres_cpu_seconds, processes
from bench.stack import empty_tables

SHOP_SQL = """
INSERT INTO devices_device (user_id, platform, provider, token, locale, timezone, app_id, app_version,
    web_push_p256dh, web_push_auth, last_seen_at, created_at, is_active, deactivation_reason)
SELECT 'shopper-' || lpad(g::text, 8, '0'),
       CASE WHEN mod(g, 10) < 6 THEN 'android' WHEN mod(g, 10) < 9 THEN 'ios' ELSE 'web' END,
       CASE WHEN mod(g, 10) < 6 THEN 'fcm' WHEN mod(g, 10) < 9 THEN 'apns' ELSE 'webpush' END,
       CASE WHEN mod(g, 10) < 9 THEN 'bench-' || g ELSE %s || '/wp/bench-' || g END,
       (ARRAY['en-GB','de-DE','fr-FR','es-ES'])[1 + mod(g, 4)],
       (ARRAY['Europe/London','Europe/Berlin','Europe/Paris','Europe/Madrid','America/New_York'])[1 + mod(g, 5)],
       'shop', '4.2.0', CASE WHEN mod(g, 10) = 9 THEN %s ELSE '' END, CASE WHEN mod(g, 10) = 9 THEN %s ELSE '' END,
       now(), now(), true, ''
FROM generate_series(0, %s - 1) AS g
"""


SCENARIO_TABLES = (
    "notifications_deliveryattempt",
    "notifications_faileddelivery",
    "notifications_delivery",
    "notifications_notification",
    "notifications_notificationcontent",
    "campaigns_campaignrun",
    "campaigns_campaignvariant",
    "campaigns_campaign",
    "events_event",
    "events_eventkey",
)


def build_shop(sim, devices: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The synthetic shop: `devices` devices of as many shoppers, the campaign's template and segment (their ids)."""
    from audience.models import Segment
    from bench.providers import subscription_keys

    p256dh, auth = subscription_keys()
    empty_tables(*SCENARIO_TABLES, "devices_device")
    with connection.cursor() as cursor:
        cursor.execute(SHOP_SQL, [sim.base_url, p256dh, auth, devices])
        cursor.execute("VACUUM ANALYZE devices_device")
        cursor.execute("CHECKPOINT")  # the shop's writes flushed now, not during the first scenario's measurement
    template = weekend_template()
    segment, _ = Segment.objects.get_or_create(name="bench: everyone")
    return template.pk, segment.pk


@dataclass
class Stack:
    """What every scenario runs against."""

    base_url: str
    api_key: str
    sim: Any
    worker_pgids: list[int]
    web_pids: list[int]
    template_id: int
    segment_id: int
    devices: int
    results: dict[str, Any] = field(default_factory=dict)


def reset_state(stack: Stack) -> None:
    """Between scenarios: no notifications, campaigns or events left, caps and the token cache emptied."""
    import redis
    from django.db import OperationalError

    from bench.stack import BENCH_REDIS

    for attempt in range(5):  # beat's tasks keep writing; a deadlock with one of them is retried
        try:
            empty_tables(*SCENARIO_TABLES)  # one statement: nothing can slip in between the tables
            break
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.5)
    client = redis.Redis.from_url(BENCH_REDIS)
    for pattern in ("pc:protect:*", "pc:tokens:*"):
        for key in client.scan_iter(pattern, count=10_000):
            client.delete(key)
    stack.sim.reset()


class Cpu:
    """CPU seconds of the workers, the web process, PostgreSQL, Redis and the simulator over a span."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.start = self.read()

    def read(self) -> dict[str, float]:
        workers = [pid for pgid in self.stack.worker_pgids for pid in processes(pgid=pgid)]
        return {
            "workers": cpu_seconds(workers),
            "web": cpu_seconds(self.stack.web_pids),
            "postgres": postgres_cpu_seconds(),
            "redis": cpu_seconds(processes(name="redis-server")),
            "simulator": self.stack.sim.cpu_seconds(),
        }

    def per_delivery_us(self, deliveries: int) -> dict[str, float]:
        end = self.read()
        return {name: (end[name] - self.start[name]) / max(deliveries, 1) * 1e6 for name in end}


def launch_campaign(stack: Stack, name: str) -> tuple[int, float]:
    from audience.models import Segment
    from campaigns import services
    from campaigns.models import Campaign
    from templates.models import MessageTemplate

    campaign = Campaign.objects.create(
        name=name,
        template=MessageTemplate.objects.get(pk=stack.template_id),
        segment=Segment.objects.get(pk=stack.segment_id),
        context={"discount": "20%", "category": "fruit"},
    )
    started = time.time()
    services.launch(campaign)
    return campaign.pk, started


def wait_until_finished(stack: Stack, expected: int, timeout: float = 3600) -> None:
    """Until every delivery is final (delivered, token invalid, or failed for good).

    The simulator's answer count (in its memory) is polled until it could be so, and only then PostgreSQL:
    counting the deliveries every half second would add to the PostgreSQL CPU reported per delivery.
    """
    from notifications.models import Delivery, DeliveryStatus

    deadline = time.monotonic() + timeout
    final = [DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.TOKEN_INVALID]
    while stack.sim.stats()["requests"] < expected or Delivery.objects.filter(status__in=final).count() < expected:
        if time.monotonic() > deadline:
            raise RuntimeError("the deliveries did not finish in time")
        time.sleep(0.5)


def throughput_timeline(started: float) -> list[tuple[float, int]]:
    """(seconds since launch, deliveries recorded as provider-accepted in that second)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT floor(extract(epoch FROM updated_at) - %s), count(*) FROM notifications_delivery "
            "WHERE status = 'delivered' GROUP BY 1 ORDER BY 1",
            [started],
        )
        return [(float(second), count) for second, count in cursor.fetchall()]


def fan_out(stack: Stack) -> dict[str, Any]:
    """Scenario 1: one campaign to every device."""
    from django.db.models import Max, Min

    from notifications.models import Delivery, DeliveryStatus

    reset_state(stack)
    cpu = Cpu(stack)
    _, started = launch_campaign(stack, "fan-out")
    wait_until_finished(stack, stack.devices)
    delivered = Delivery.objects.filter(status=DeliveryStatus.DELIVERED)
    span = delivered.aggregate(first=Min("updated_at"), last=Max("updated_at"))
    count = delivered.count()
    seconds = span["last"].timestamp() - started
    workers = [pid for pgid in stack.worker_pgids for pid in processes(pgid=pgid)]
    return {
        "devices": stack.devices,
        "delivered": count,
        "seconds": seconds,
        "per_minute": count / seconds * 60,
        "first_after_s": span["first"].timestamp() - started,
        "peak_rss_mb": sorted(peak_rss_mb(workers).values(), reverse=True),
        "cpu_us_per_delivery": cpu.per_delivery_us(count),
        "timeline": throughput_timeline(started),
    }


def _order_event(n: int, user: int) -> dict:
    return {
        "type": "order_status_changed",
        "user_id": f"shopper-{user:08d}",
        "idempotency_key": f"bench-order-{n}-{time.time_ns()}",
        "data": {"order_id": str(100000 + n), "status": "cancelled", "reason": "out of stock"},
    }


def event_latencies(accepted: dict[int, float]) -> list[float]:
    """Seconds from each event accepted to its first delivery accepted by the provider."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.source_ref::bigint, extract(epoch FROM min(d.updated_at)) FROM notifications_notification n "
            "JOIN notifications_delivery d ON d.notification_id = n.id AND d.status = 'delivered' "
            "WHERE n.source = 'event' AND n.source_ref = ANY(%s) GROUP BY n.source_ref",
            [[str(pk) for pk in accepted]],
        )
        return [float(at) - accepted[int(ref)] for ref, at in cursor.fetchall()]


def unsettled(event_ids: list[int], notification_ids: list[int] | None = None) -> int:
    """Events not yet processed, and notifications (the events', and those given) not yet final: pending,
    scheduled, or with a delivery in flight."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_event WHERE id = ANY(%s) AND status = 'received'", [event_ids])
        waiting = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM notifications_notification n WHERE "
            "(n.id = ANY(%s) OR (n.source = 'event' AND n.source_ref = ANY(%s))) AND (n.status IN "
            "('pending', 'scheduled') OR EXISTS (SELECT 1 FROM notifications_delivery d WHERE "
            "d.notification_id = n.id AND d.status IN ('queued', 'sending', 'retry_scheduled')))",
            [notification_ids or [], [str(pk) for pk in event_ids]],
        )
        return waiting + cursor.fetchone()[0]


def _latency_summary(latencies: list[float], sent: int) -> dict[str, Any]:
    return {
        "events": sent,
        "delivered": len(latencies),
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "latencies_ms": [round(v * 1000, 1) for v in latencies],
    }


def event_burst(stack: Stack, events: int) -> dict[str, Any]:
    """Scenario 2: order events through the REST batch endpoint, as fast as one client sends them."""
    reset_state(stack)
    accepted: dict[int, float] = {}
    headers = {"Authorization": f"Api-Key {stack.api_key}"}
    started = time.perf_counter()
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=120) as client:
        for start in range(0, events, 500):
            batch = [_order_event(n, n % stack.devices) for n in range(start, min(start + 500, events))]
            answer = client.post("/api/v1/events/", json={"events": batch})
            answer.raise_for_status()
            now = time.time()
            accepted.update({item["id"]: now for item in answer.json()["events"]})
    ingest_seconds = time.perf_counter() - started
    wait_until_finished(stack, events)
    result = _latency_summary(event_latencies(accepted), events)
    result["accepted_per_second"] = events / ingest_seconds
    return result


def priority_under_load(stack: Stack, rate: float) -> dict[str, Any]:
    """Scenario 3: order events one by one at a steady rate while the campaign fans out to every device."""
    reset_state(stack)
    accepted: dict[int, float] = {}
    stop = threading.Event()

    def send_orders() -> None:
        headers = {"Authorization": f"Api-Key {stack.api_key}"}
        with httpx.Client(base_url=stack.base_url, headers=headers, timeout=60) as client:
            n = 0
            next_at = time.monotonic()
            while not stop.is_set():
                answer = client.post("/api/v1/events/", json=_order_event(n, n % stack.devices))
                answer.raise_for_status()
                accepted[answer.json()["events"][0]["id"]] = time.time()
                n += 1
                next_at += 1 / rate
                time.sleep(max(0.0, next_at - time.monotonic()))

    sender = threading.Thread(target=send_orders, daemon=True)
    _, started = launch_campaign(stack, "priority")
    sender.start()
    try:
        wait_until_finished(stack, stack.devices)  # the campaign's deliveries (the orders' are counted separately)
    finally:
        stop.set()
        sender.join(30)
    time.sleep(2)  # the last orders' pushes
    result = _latency_summary(event_latencies(dict(accepted)), len(accepted))
    result["campaign_seconds"] = time.time() - started
    return result


def faults(stack: Stack, devices: int) -> dict[str, Any]:
    """Scenario 4: the campaign with the simulator answering 5% 503s and 1% 429s with Retry-After."""
    from django.db.models import Count, Max

    from notifications.models import Delivery, DeliveryStatus, FailedDelivery

    reset_state(stack)
    stack.sim.configure(rate_503=0.05, rate_429=0.01, retry_after=1)
    try:
        _, started = launch_campaign(stack, "faults")
        wait_until_finished(stack, devices)
    finally:
        stack.sim.configure(rate_503=0.0, rate_429=0.0)
    statuses = dict(Delivery.objects.values_list("status").annotate(n=Count("pk")))
    total = sum(statuses.values())
    delivered = statuses.get(DeliveryStatus.DELIVERED, 0)
    failed_records = FailedDelivery.objects.count()
    last = Delivery.objects.aggregate(last=Max("updated_at"))["last"].timestamp()
    simulated = stack.sim.stats()["totals"]
    return {
        "deliveries": total,
        "delivered": delivered,
        "failed_with_record": failed_records,
        "unaccounted": total - delivered - failed_records,
        "seconds": last - started,
        "per_minute": delivered / (last - started) * 60,
        "simulator_answers": simulated,
        "attempts": sum(Delivery.objects.values_list("attempts", flat=True)),
    }


BASELINE_DEVICES_SQL = {
    # The shop's mix (SHOP_SQL): shopper g has an Android device if g mod 10 < 6, iOS if < 9, else a browser.
    "fcm": "INSERT INTO push_notifications_gcmdevice (active, date_created, registration_id, cloud_message_type) "
    "SELECT true, now(), 'baseline-' || g, 'FCM' FROM generate_series(0, %s - 1) AS g WHERE mod(g, 10) < 6",
    "apns": "INSERT INTO push_notifications_apnsdevice (active, date_created, registration_id) "
    "SELECT true, now(), 'baseline-' || g FROM generate_series(0, %s - 1) AS g WHERE mod(g, 10) BETWEEN 6 AND 8",
    "webpush": "INSERT INTO push_notifications_webpushdevice (active, date_created, registration_id, p256dh, auth, "
    "browser) SELECT true, now(), 'baseline-' || g, %s, %s, 'CHROME' FROM generate_series(0, %s - 1) AS g "
    "WHERE mod(g, 10) = 9",
}


def baseline(stack: Stack, devices: int, concurrency: int, env: dict[str, str]) -> dict[str, Any]:
    """Scenario 5: django-push-notifications from Celery tasks to the same simulator, the same mix of devices.

    Android through firebase-admin (send_each), iOS through aioapns, browsers through pywebpush, each in
    the library's bulk send of a queryset, 500 devices per task (FCM's send_each limit).
    """
    from bench.processes import ROOT, celery_worker
    from bench.providers import subscription_keys

    reset_state(stack)
    base_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "bench.baseline_settings",
        "SSL_CERT_FILE": env["APNS_CA_FILE"],  # aioapns' default TLS context trusts the simulator's CA
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=base_env, check=True)
    p256dh, auth = subscription_keys()
    ids: dict[str, list[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE push_notifications_gcmdevice, push_notifications_apnsdevice, push_notifications_webpushdevice"
        )
        cursor.execute(BASELINE_DEVICES_SQL["fcm"], [devices])
        cursor.execute(BASELINE_DEVICES_SQL["apns"], [devices])
        cursor.execute(BASELINE_DEVICES_SQL["webpush"], [p256dh, auth, devices])
        for kind in BASELINE_DEVICES_SQL:
            table = {"fcm": "gcmdevice", "apns": "apnsdevice", "webpush": "webpushdevice"}[kind]
            cursor.execute(f"SELECT id FROM push_notifications_{table} ORDER BY id")
            ids[kind] = [pk for (pk,) in cursor.fetchall()]
    total = sum(len(chunk) for chunk in ids.values())
    from config.celery import app

    with celery_worker(base_env, "baseline", "baseline", concurrency=concurrency) as worker:
        pids = processes(pgid=worker.process.pid)
        cpu_before = cpu_seconds(pids)
        started = time.time()
        for start in range(0, max(len(chunk) for chunk in ids.values()), 500):
            for kind, chunk in ids.items():
                if chunk[start : start + 500]:
                    app.send_task(
                        "baseline.send_to_devices",
                        args=[kind, chunk[start : start + 500], "Weekend deals", "-20% on fruit"],
                        queue="baseline",
                    )
        # Until every push is accepted, or the library has given up on some (it doesn't retry a bulk send
        # that raised): the queue is empty and nothing more arrives for 5 s.
        deadline = time.monotonic() + 3600
        accepted, last_change, seconds = 0, time.monotonic(), 0.0
        while accepted < total and time.monotonic() < deadline:
            now_accepted = _accepted(stack.sim)
            if now_accepted != accepted:
                accepted, last_change, seconds = now_accepted, time.monotonic(), time.time() - started
            elif time.monotonic() - last_change > 5 and not _waiting(app, "baseline"):
                break
            time.sleep(0.5)
        cpu_used = cpu_seconds(processes(pgid=worker.process.pid)) - cpu_before
        peaks = sorted(peak_rss_mb(processes(pgid=worker.process.pid)).values(), reverse=True)
    return {
        "devices": total,
        "by_provider": {kind: len(chunk) for kind, chunk in ids.items()},
        "accepted": accepted,
        "accepted_by_provider": {name: a.get("ok", 0) for name, a in stack.sim.stats()["providers"].items()},
        "seconds": seconds,
        "per_minute": accepted / seconds * 60,
        "worker_cpu_us_per_delivery": cpu_used / total * 1e6,
        "peak_rss_mb": peaks,
    }


def _waiting(app, queue: str) -> int:  # type: ignore[no-untyped-def]
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue)


def _accepted(sim) -> int:  # type: ignore[no-untyped-def]
    return sum(answers.get("ok", 0) for answers in sim.stats()["providers"].values())


def weekend_template() -> MessageTemplate:
    """The benchmarks' campaign template (bench.scenarios and bench.history send it)."""
    from templates.models import MessageTemplate

    template, _ = MessageTemplate.objects.get_or_create(
        key="bench_weekend",
        defaults={
            "name": "bench",
            "category": "promotions",
            "priority": "normal",
            "title": "{{ discount }} off {{ category }}",
            "body": "This weekend only.",
        },
    )
    return template
