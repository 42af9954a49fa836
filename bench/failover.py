"""A database failover mid-campaign and mid-burst of order events (issue 21): what each device got.

    python -m bench.failover [--devices 20000] [--events 1000] [--json path] [--logs dir]

Each run has a PostgreSQL server of its own (bench.pgcluster), a fresh database migrated on it, the simulator,
and the Procfile's processes pointed at it: one web process, beat, the transactional worker and the marketing
worker (niced, committing without waiting for the WAL flush). A throttled campaign goes out to `devices`
devices, and with faults:

    restart_at        PostgreSQL restarted (fast shutdown), while order events are posted through the REST API
                      one small batch after another (answers 503 or a lost connection are retried with the
                      same idempotency keys, as a producer does)
    crash_at          PostgreSQL killed (immediate stop: crash recovery), down `down_seconds`, started again
    kill_at           the marketing worker killed with SIGKILL and started again at once (its supervisor)

The simulator counts per token what it accepted: a device lost is one that got nothing, one pushed twice got
more than one. The same run without faults gives the time the campaign takes when nothing goes wrong.

Nothing here imports bench.stack, which points the process at the benchmark's database: the tests run this
scenario in their own process (tests/test_database_failover.py), on their own Redis database.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from django.db import DatabaseError, InterfaceError, connection

from bench.pgcluster import Cluster, running_cluster
from bench.processes import ROOT, Worker, celery_beat, celery_worker, pointed_at, web_process, worker_environment
from bench.redisserver import RedisServer, running_redis

CAMPAIGN_TOKENS = "shop-"  # the campaign's devices: shop-<n>
ORDER_TOKENS = "order-"  # the order shoppers' devices: order-<n> (outside the campaign's segment)

# Android and iOS devices (FCM and APNs through the simulator), app version 4.2 for the campaign's segment.
SHOP_SQL = """
INSERT INTO devices_device (user_id, platform, provider, token, locale, timezone, app_id, app_version,
    web_push_p256dh, web_push_auth, last_seen_at, created_at, is_active, deactivation_reason)
SELECT %s || lpad(g::text, 8, '0'), CASE WHEN mod(g, 10) < 6 THEN 'android' ELSE 'ios' END,
       CASE WHEN mod(g, 10) < 6 THEN 'fcm' ELSE 'apns' END, %s || g,
       (ARRAY['en-GB','de-DE','fr-FR','es-ES'])[1 + mod(g, 4)], 'Europe/London', 'shop', %s, '', '', now(), now(),
       true, ''
FROM generate_series(0, %s - 1) AS g
"""


@dataclass
class Plan:
    """The campaign, the order events and when each fault strikes (seconds after the launch)."""

    devices: int = 20_000
    throttle_per_minute: int = 30_000  # with 2 s steps: pages of 1,000 shoppers, one every 2 s (about 40 s)
    step_seconds: int = 2  # CAMPAIGN_THROTTLE_STEP_SECONDS
    events: int = 1_000  # order events, one per order shopper, posted around the restart
    event_batch: int = 20
    restart_at: float = 10.0
    crash_at: float = 20.0
    down_seconds: float = 5.0
    kill_at: float = 30.0
    latency_ms: int = 20  # the simulator's answer time: a batch's pushes are in flight for a while
    # Each database fault waits (up to a page's step) for a campaign batch to be going out, and strikes then: its
    # transaction dies with pushes already accepted, the worst case for duplicates (issue 21 saw two batches).
    strike_mid_batch: bool = True
    # The kill waits for a batch to have gone out and strikes between two (kill_mid_batch False), or strikes
    # while one is on the wire: then the pushes whose answers had not come back are sent again (the provider
    # has them, the worker never heard: notifications.ledger's window), about half a batch at 20 ms.
    kill_mid_batch: bool = False
    timeout: float = 900.0  # to complete, faults included

    @classmethod
    def sized(cls, devices: int) -> Plan:
        """The plan for `devices`: the faults a quarter, half and three quarters into the campaign's calm length
        (at 20,000 devices, 40 s: at 10, 20 and 30 s, as issue 21 measured)."""
        from campaigns.fanout import PAGE_SIZE

        plan = cls(devices=devices)
        page = min(PAGE_SIZE, plan.throttle_per_minute * plan.step_seconds // 60)
        length = -(-devices // page) * plan.step_seconds
        plan.restart_at, plan.crash_at, plan.kill_at = length / 4, length / 2, length * 3 / 4
        return plan


@dataclass
class Outcome:
    """What the simulator accepted per device, and how long the campaign took."""

    faults: bool
    devices: int
    delivered: int  # devices that got the campaign's push
    lost: int
    pushed_twice: int  # devices that got it more than once
    most_to_one_device: int
    events: int
    orders_delivered: int
    orders_lost: int
    orders_twice: int
    seconds: float  # launch → the run finished (every batch sent and written)
    completed: bool
    timeline: list[tuple[float, str]] = field(default_factory=list)  # what happened when (seconds after launch)
    stalls: list[tuple[float, float]] = field(default_factory=list)  # spans with no push accepted
    task_failures: dict[str, int] = field(default_factory=dict)  # worker log lines naming a task that failed
    died: list[str] = field(default_factory=list)  # processes that exited by themselves (beat, a worker)
    event_retries: int = 0  # event batches posted again after a 5xx or a lost connection

    @property
    def share_twice(self) -> float:
        return self.pushed_twice / max(self.devices, 1)

    def summary(self) -> dict[str, Any]:
        return {**asdict(self), "share_twice": self.share_twice}


def settings_module() -> str:
    import os

    return os.environ["DJANGO_SETTINGS_MODULE"]


def prepare(cluster: Cluster, plan: Plan) -> int:
    """A migrated database on the cluster with the shop; returns the campaign's id (a draft)."""
    from audience.models import Field, Operator, Segment, SegmentCondition
    from bench.processes import database_environment
    from campaigns.models import Campaign
    from templates.models import MessageTemplate

    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env=database_environment(settings_module()),
        check=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(SHOP_SQL, ["shopper-", CAMPAIGN_TOKENS, "4.2.0", plan.devices])
        cursor.execute(SHOP_SQL, ["buyer-", ORDER_TOKENS, "3.0.0", plan.events])
        cursor.execute("VACUUM ANALYZE devices_device")
    segment = Segment.objects.create(name="failover: app 4 and later")
    SegmentCondition.objects.create(segment=segment, field=Field.APP_VERSION, operator=Operator.GTE, value="4.0")
    template = MessageTemplate.objects.create(
        key="failover_promo", name="failover", category="promotions", title="Weekend deals", body="-20% on fruit"
    )
    campaign = Campaign.objects.create(
        name="failover", template=template, segment=segment, throttle_per_minute=plan.throttle_per_minute
    )
    return campaign.pk


class PushClock:
    """The simulator's request count, sampled every 0.2 s: when pushes were accepted, and when none were."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with suppress(OSError):
                self.samples.append((time.time(), self.sim.stats()["requests"]))
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def stalls(self, since: float, until: float, longer_than: float) -> list[tuple[float, float]]:
        """Spans (seconds after `since`) longer than `longer_than` in which the count did not move."""
        found, last_change, last_count = [], since, None
        for at, count in self.samples:
            if at < since or at > until:
                continue
            if count != last_count:
                if last_count is not None and at - last_change > longer_than:
                    found.append((round(last_change - since, 1), round(at - since, 1)))
                last_change, last_count = at, count
        return found


class OrderBurst:
    """Order events posted in small batches through the REST API, each retried until it is answered 202."""

    def __init__(self, base_url: str, api_key: str, plan: Plan) -> None:
        self.base_url, self.api_key, self.plan = base_url, api_key, plan
        self.retries = 0
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        headers = {"Authorization": f"Api-Key {self.api_key}"}
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=30) as client:
            for start in range(0, self.plan.events, self.plan.event_batch):
                batch = [order_event(n) for n in range(start, min(start + self.plan.event_batch, self.plan.events))]
                while True:
                    try:
                        answer = client.post("/api/v1/events/", json={"events": batch})
                        if answer.status_code == 202:
                            break
                        if answer.status_code < 500:
                            self.failures.append(f"{answer.status_code}: {answer.text[:200]}")
                            break
                    except httpx.TransportError:
                        pass
                    self.retries += 1
                    if time.monotonic() > deadline:
                        self.failures.append("gave up after 120 s")
                        return
                    time.sleep(0.2)
                time.sleep(0.05)


def campaign_pushes(sim: Any) -> int:
    """Pushes the simulator has taken over APNs: the campaign's alone (the order shoppers' devices are Android)."""
    return sum(sim.stats()["providers"].get("apns", {}).values())


def when_a_batch_is_out(sim: Any, within: float) -> bool:
    """Return as soon as a campaign batch is going out (True), or after `within` seconds (False)."""
    deadline = time.monotonic() + within
    before = campaign_pushes(sim)
    while time.monotonic() < deadline:
        if campaign_pushes(sim) != before:
            return True
        time.sleep(0.005)
    return False


def order_event(n: int) -> dict[str, Any]:
    return {
        "type": "order_status_changed",
        "user_id": f"buyer-{n:08d}",
        "idempotency_key": f"failover-order-{n}",
        "data": {"order_id": str(100_000 + n), "status": "cancelled", "reason": "out of stock"},
    }


def _query(function: Any) -> Any:
    """Run a read that may meet the database down: None then (the connection is dropped, to be made again)."""
    try:
        return function()
    except (DatabaseError, InterfaceError):
        connection.close()
        return None


TASK_FAILURE = re.compile(r"Task (\S+)\[[^\]]+\] (raised unexpected: \w+|retry: )")


def task_failures(workers: list[Worker]) -> dict[str, int]:
    """Per task name and what happened (a failure, a retry), how often the workers' logs say so."""
    counts: dict[str, int] = {}
    for worker in workers:
        for line in worker.log:
            match = TASK_FAILURE.search(line)
            if match:
                key = f"{match.group(1)} {match.group(2).rstrip(': ')}"
                counts[key] = counts.get(key, 0) + 1
    return counts


def run(sim: Any, plan: Plan, *, faults: bool, logs: Path | None = None, redis: RedisServer | None = None) -> Outcome:
    """One campaign (and with `faults`, the order burst and the faults) on a server of its own. With `redis` (the
    server this process and its children use), the crash kills it too, at the same moment."""
    from django.conf import settings
    from redis import Redis

    from accounts.services import create_api_key
    from campaigns import services
    from campaigns.models import Campaign, CampaignRun

    Redis.from_url(settings.REDIS_URL).flushdb()  # caps, token cache, broker: nothing from a run before
    sim.reset()
    sim.configure(latency_ms=plan.latency_ms)
    with running_cluster() as cluster, pointed_at(cluster.create_database("pushcart")), ExitStack() as stack:
        campaign_id = prepare(cluster, plan)
        _, api_key = create_api_key(name="failover", scopes=["events:write"])
        env = worker_environment(
            sim,
            settings_module(),
            CAMPAIGN_THROTTLE_STEP_SECONDS=str(plan.step_seconds),
            PYTHONUNBUFFERED="1",  # a killed worker's last lines are in its log too
        )
        marketing_env = {**env, "DATABASE_SYNCHRONOUS_COMMIT": "off"}  # as in the Procfile
        base_url = stack.enter_context(web_process(env))
        beat_log = cluster.directory / "beat.log"
        beat = stack.enter_context(celery_beat(env, log=beat_log))
        workers = [
            stack.enter_context(celery_worker(env, "transactional", "transactional", concurrency=2)),
            stack.enter_context(celery_worker(marketing_env, "marketing,default", "marketing", concurrency=2, nice=19)),
        ]
        connection.close()  # nothing of this process's stays open across the faults
        clock = PushClock(sim)
        timeline: list[tuple[float, str]] = []
        started = time.time()

        def note(what: str) -> None:
            timeline.append((round(time.time() - started, 1), what))

        def at(offset: float, *, between_batches: bool = False) -> None:
            time.sleep(max(0.0, started + offset - time.time()))
            if plan.strike_mid_batch:
                out = when_a_batch_is_out(sim, within=plan.step_seconds + 1)
                if between_batches:  # its answers are back (latency_ms); the next page is a step away
                    time.sleep(plan.step_seconds / 4)
                note(("a batch gone out" if between_batches else "a batch going out") if out else "no batch seen")

        services.launch(Campaign.objects.get(pk=campaign_id))
        connection.close()
        note("launched")
        burst = OrderBurst(base_url, api_key, plan)
        killed: list[str] = []
        if faults:
            time.sleep(max(0.0, started + plan.restart_at - 0.5 - time.time()))
            burst.thread.start()
            note("order events start")
            at(plan.restart_at)
            cluster.restart("fast")  # its steps, timed, in cluster.history
            at(plan.crash_at)
            if redis is None:
                cluster.crash(plan.down_seconds)
            else:  # both killed at once, both down, both started again
                crashing = threading.Thread(target=redis.crash, args=(plan.down_seconds,))
                crashing.start()
                cluster.crash(plan.down_seconds)
                crashing.join()
                note("Redis killed with PostgreSQL, and back")
            at(plan.kill_at, between_batches=not plan.kill_mid_batch)
            note("marketing worker killed (SIGKILL), started again")
            workers[1].kill()
            killed.append(workers[1].name)
            workers.append(
                stack.enter_context(
                    celery_worker(marketing_env, "marketing,default", "marketing-2", concurrency=2, nice=19)
                )
            )
            note("marketing worker ready")
        else:
            burst.thread.start()
            note("order events start")
        burst.thread.join(150)
        note("order events all answered 202" if not burst.failures else f"order events failed: {burst.failures[:3]}")

        def finished() -> datetime | None:
            return CampaignRun.objects.filter(campaign_id=campaign_id).values_list("finished_at", flat=True).first()

        deadline = started + plan.timeout
        finished_at = None
        while time.time() < deadline:
            finished_at = _query(finished)
            orders_done = len(sim.received(ORDER_TOKENS)) >= plan.events
            if finished_at is not None and orders_done:
                break
            time.sleep(0.5)
        if finished_at is not None:
            timeline.append((round(finished_at.timestamp() - started, 1), "campaign run finished"))
        time.sleep(1)  # anything still in flight lands before the count
        clock.stop()
        campaign = sim.received(CAMPAIGN_TOKENS)
        orders = sim.received(ORDER_TOKENS)
        end = finished_at.timestamp() if finished_at else time.time()
        outcome = Outcome(
            faults=faults,
            devices=plan.devices,
            delivered=len(campaign),
            lost=plan.devices - len(campaign),
            pushed_twice=sum(1 for n in campaign.values() if n > 1),
            most_to_one_device=max(campaign.values(), default=0),
            events=plan.events,
            orders_delivered=len(orders),
            orders_lost=plan.events - len(orders),
            orders_twice=sum(1 for n in orders.values() if n > 1),
            seconds=round(end - started, 1),
            completed=finished_at is not None,
            timeline=sorted(
                timeline + [(round(at - started, 1), f"PostgreSQL {what}") for at, what in cluster.history[1:]]
            ),
            stalls=clock.stalls(started, end, longer_than=2 * plan.step_seconds),
            task_failures=task_failures(workers),
            died=[w.name for w in workers if w.process.poll() is not None and w.name not in killed]
            + (["beat"] if beat.poll() is not None else []),
            event_retries=burst.retries,
        )
        if logs:
            kind = "faults" if faults else "calm"
            logs.mkdir(parents=True, exist_ok=True)
            for worker in workers:
                (logs / f"{kind}-{worker.name}.log").write_text("".join(worker.log))
            (logs / f"{kind}-postgres.log").write_text(cluster.log.read_text(errors="replace"))
            (logs / f"{kind}-beat.log").write_text(beat_log.read_text(errors="replace"))
    return outcome


def scenario(
    sim: Any, plan: Plan, *, reference: bool = True, logs: Path | None = None, redis: RedisServer | None = None
) -> dict[str, Any]:
    """The benchmark's line: the run with faults, and (with `reference`) the same run without."""
    result: dict[str, Any] = {"plan": asdict(plan), "redis_crashed_with_postgresql": redis is not None}
    if reference:
        result["calm"] = run(sim, plan, faults=False, logs=logs).summary()
    result["failover"] = run(sim, plan, faults=True, logs=logs, redis=redis).summary()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=Plan.devices)
    parser.add_argument("--events", type=int, default=Plan.events)
    parser.add_argument("--no-reference", action="store_true", help="Only the run with faults.")
    parser.add_argument("--json", type=Path, help="Write the results here.")
    parser.add_argument("--logs", type=Path, help="Keep the workers' and PostgreSQL's logs in this directory.")
    parser.add_argument(
        "--with-redis", action="store_true", help="Kill a Redis of its own (append-only file) with the crash too."
    )
    parser.add_argument("--kill-mid-batch", action="store_true", help="Kill the worker while a batch is out.")
    args = parser.parse_args()
    with ExitStack() as stack:
        redis = stack.enter_context(running_redis()) if args.with_redis else None
        if redis is not None:
            os.environ["BENCH_REDIS"] = redis.url(0)  # read by bench.stack: this process, and what it starts
        result = _measure(args, redis)
    text = json.dumps(result, indent=2, default=str)
    if args.json:
        args.json.write_text(text)
    print(text)


def _measure(args: argparse.Namespace, redis: RedisServer | None) -> dict[str, Any]:
    import django

    import bench.stack  # noqa: F401 - the benchmark's environment (secrets, its own Redis), not .env

    django.setup()
    from pushsim.control import running

    plan = Plan.sized(args.devices)
    plan.events = args.events
    plan.kill_mid_batch = args.kill_mid_batch
    with running(Path(tempfile.mkdtemp(prefix="pushsim-failover-"))) as sim:
        return scenario(sim, plan, reference=not args.no_reference, logs=args.logs, redis=redis)


if __name__ == "__main__":
    main()
