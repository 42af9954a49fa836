"""The API loaded the way clients arrive: many single requests at a fixed arrival rate (open loop).

    .venv/bin/python -m bench.api [--rate 833] [--seconds 60] [--knee] [--overload] [--quick]

Also the `api` scenario of `python -m bench`. Each request is started at its scheduled instant whether or not
the earlier ones were answered (a closed loop would slow down with the server and hide its queue), and its
latency counts from that instant. The mix is what a grocery shop's clients send (MIX): single order events
from the order service, direct sends, the app's device registrations and preference reads.

Printed for each run: offered vs achieved rate, answers by status, HTTP p50/p95/p99, event (or direct send) →
provider-accepted p50/p95/p99, PostgreSQL connections at peak by process kind, and the CPU each process kind
spent per request. `--knee` searches the highest rate that holds the bounds (BOUNDS); `--overload` offers
three times a rate and checks that the excess is refused quickly (503/429 with Retry-After) and that the API
recovers by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import cpu_seconds, percentile, postgres_cpu_seconds, processes, with_descendants

# Out of every 20 requests: 14 single events, 3 direct sends, 2 device registrations, 1 preference read.
MIX = ("event",) * 14 + ("send",) * 3 + ("device",) * 2 + ("preferences",)
CLIENT_TIMEOUT_SECONDS = 30
MAX_CONNECTIONS = 1000  # the load generator's keep-alive connections: many clients, not one


@dataclass(frozen=True)
class Bounds:
    """What a rate must hold to count as sustained (issue 16)."""

    http_p99_ms: float = 100
    push_p99_ms: float = 1000
    achieved_share: float = 0.99  # of the offered rate


BOUNDS = Bounds()


@dataclass
class Run:
    rate: float
    seconds: float
    statuses: collections.Counter = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, every answer
    shed_latencies: list[float] = field(default_factory=list)  # 503/429 answers
    retry_after_missing: int = 0
    accepted_events: dict[int, float] = field(default_factory=dict)  # event id → scheduled wall time
    accepted_sends: dict[int, float] = field(default_factory=dict)  # notification id → scheduled wall time
    push_latencies: list[float] = field(default_factory=list)
    unsettled: int = 0  # 202s that ended in neither a push nor a recorded reason
    pg_connections_peak: dict[str, int] = field(default_factory=dict)
    cpu_us_per_request: dict[str, float] = field(default_factory=dict)
    sent: int = 0
    elapsed: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if isinstance(status, int) and status >= 500) - self.shed

    @property
    def shed(self) -> int:
        return self.statuses[503] + self.statuses[429]

    @property
    def timeouts(self) -> int:
        return self.statuses["timeout"]

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if isinstance(status, str))

    def holds(self, bounds: Bounds = BOUNDS) -> bool:
        return (
            self.server_errors == 0
            and self.shed == 0
            and self.errors == 0
            and self.unsettled == 0
            and self.achieved >= bounds.achieved_share * self.rate
            and percentile(self.latencies, 0.99) * 1000 < bounds.http_p99_ms
            and percentile(self.push_latencies, 0.99) * 1000 < bounds.push_p99_ms
        )

    @property
    def achieved(self) -> float:
        return sum(self.statuses.values()) / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, Any]:
        ms = lambda values, share: round(percentile(values, share) * 1000, 1)  # noqa: E731
        return {
            "offered_per_second": self.rate,
            "achieved_per_second": round(self.achieved, 1),
            "seconds": self.seconds,
            "requests": self.sent,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "http_p50_ms": ms(self.latencies, 0.5),
            "http_p95_ms": ms(self.latencies, 0.95),
            "http_p99_ms": ms(self.latencies, 0.99),
            "http_max_ms": round(max(self.latencies, default=float("nan")) * 1000, 1),
            "shed": self.shed,
            "shed_p99_ms": ms(self.shed_latencies, 0.99),
            "shed_without_retry_after": self.retry_after_missing,
            "pushes": len(self.push_latencies),
            "push_p50_ms": ms(self.push_latencies, 0.5),
            "push_p95_ms": ms(self.push_latencies, 0.95),
            "push_p99_ms": ms(self.push_latencies, 0.99),
            "unsettled": self.unsettled,
            "pg_connections_peak": self.pg_connections_peak,
            "cpu_us_per_request": self.cpu_us_per_request,
            "holds": self.holds(),
        }


class Shop:
    """Who the requests are for, and their credentials."""

    def __init__(self, base_url: str, api_key: str, shoppers: int) -> None:
        from accounts.jwt_tokens import mint_app_token

        self.base_url = base_url
        self.service_headers = {"Authorization": f"Api-Key {api_key}"}
        self.shoppers = shoppers
        # One JWT per app user the mix touches (signing one per request would load the client, not the server).
        self._jwts: dict[int, str] = {}
        self._mint = mint_app_token

    def user(self, n: int) -> str:
        return f"shopper-{n % self.shoppers:08d}"

    def app_headers(self, n: int) -> dict[str, str]:
        user = n % self.shoppers
        if user not in self._jwts:
            self._jwts[user] = self._mint(self.user(n), lifetime_seconds=6 * 3600)
        return {"Authorization": f"Bearer {self._jwts[user]}"}

    def request(self, n: int, tag: str) -> tuple[str, str, dict[str, str], dict | None]:
        """(kind, method and path, headers, JSON body) of the n-th request."""
        kind = MIX[n % len(MIX)]
        user = self.user(n)
        if kind == "event":
            body = {
                "type": "order_status_changed",
                "user_id": user,
                "idempotency_key": f"{tag}-{n}",
                # An order id of its own: the same order twice to a shopper would be a duplicate push (and skipped).
                "data": {"order_id": f"{tag}-{n}", "status": "cancelled", "reason": "out of stock"},
            }
            return kind, "POST /api/v1/events/", self.service_headers, body
        if kind == "send":
            body = {
                "user_id": user,
                "category": "order_updates",
                "title": f"Order {tag}-{n} is delayed",
                "body": "Now arriving 15:00-16:00",
                "idempotency_key": f"{tag}-{n}",
            }
            return kind, "POST /api/v1/notifications/", self.service_headers, body
        if kind == "device":
            # The shopper's app: registered on first sight, refreshed after (every run, the same token).
            body = {"platform": "android", "token": f"app-{n % self.shoppers}", "locale": "en-GB"}
            return kind, "POST /api/v1/devices/", self.app_headers(n), body
        return kind, "GET /api/v1/preferences/", self.app_headers(n), None


async def _offer(shop: Shop, run: Run, tag: str) -> None:
    """Start request n at start + n / rate, whatever happened to the others."""
    import aiohttp

    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, force_close=False)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
    wall_offset = time.time() - loop.time()

    async with aiohttp.ClientSession(shop.base_url, connector=connector, timeout=timeout) as session:

        async def one(n: int, scheduled: float) -> None:
            kind, target, headers, body = shop.request(n, tag)
            method, path = target.split(" ", 1)
            try:
                async with session.request(method, path, json=body, headers=headers) as answer:
                    payload = await answer.json(content_type=None) if answer.status == 202 else None
                    status: int | str = answer.status
                    if status in (503, 429):
                        run.shed_latencies.append(loop.time() - scheduled)
                        run.retry_after_missing += "Retry-After" not in answer.headers
            except TimeoutError:
                status, payload = "timeout", None
            except aiohttp.ClientError as exc:
                status, payload = f"error:{type(exc).__name__}", None
            run.latencies.append(loop.time() - scheduled)
            run.statuses[status] += 1
            if payload is not None:
                at = scheduled + wall_offset
                if kind == "event":
                    run.accepted_events.update({item["id"]: at for item in payload["events"]})
                elif kind == "send":
                    run.accepted_sends.update({pk: at for pk in payload["notification_ids"]})

        tasks = []
        start = loop.time() + 0.05
        total = int(run.rate * run.seconds)
        for n in range(total):
            scheduled = start + n / run.rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n, scheduled)))
        run.sent = total
        await asyncio.gather(*tasks)
        run.elapsed = max(run.seconds, loop.time() - start - CLIENT_TIMEOUT_SECONDS * (run.timeouts > 0))


class ConnectionWatch:
    """PostgreSQL connections by application_name (the process kind, see config.settings), polled."""

    def __init__(self, interval: float = 0.2) -> None:
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(interval,), daemon=True)

    def _poll(self, interval: float) -> None:
        import psycopg

        from bench.stack import BENCH_DATABASE

        with psycopg.connect(BENCH_DATABASE, autocommit=True) as connection:
            while not self._stop.is_set():
                rows = connection.execute(
                    "SELECT coalesce(nullif(application_name, ''), 'other'), count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1"
                ).fetchall()
                total = sum(n for _, n in rows)
                for name, n in [*rows, ("total", total)]:
                    self.peak[name] = max(self.peak.get(name, 0), n)
                self._stop.wait(interval)

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


class ProcessCpu:
    """CPU seconds by process kind over a span: what each request costs where."""

    def __init__(self, kinds: dict[str, Callable[[], list[int]]], sim: Any) -> None:
        self.kinds = kinds
        self.sim = sim
        self.start = self.read()

    def read(self) -> dict[str, float]:
        spent = {name: cpu_seconds(pids()) for name, pids in self.kinds.items()}
        spent["postgres"] = postgres_cpu_seconds()
        spent["redis"] = cpu_seconds(processes(name="redis-server"))
        spent["simulator"] = self.sim.cpu_seconds()
        spent["client"] = time.process_time()
        return spent

    def per_request_us(self, requests: int) -> dict[str, float]:
        end = self.read()
        spent = {name: round((end[name] - self.start[name]) / max(requests, 1) * 1e6) for name in end}
        spent["total"] = sum(spent.values())
        return spent


def settle(run: Run, timeout: float = 60) -> None:
    """Wait until every accepted event and send is pushed or has a recorded reason; collect push latencies."""
    from django.db import connection

    from bench.scenarios import event_latencies, unsettled

    deadline = time.monotonic() + timeout
    event_ids, send_ids = list(run.accepted_events), list(run.accepted_sends)
    while (waiting := unsettled(event_ids, send_ids)) and time.monotonic() < deadline:
        time.sleep(0.5)
    run.unsettled = waiting
    latencies = event_latencies(run.accepted_events)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT notification_id, extract(epoch FROM min(updated_at)) FROM notifications_delivery "
            "WHERE notification_id = ANY(%s) AND status = 'delivered' GROUP BY 1",
            [send_ids],
        )
        latencies += [float(at) - run.accepted_sends[pk] for pk, at in cursor.fetchall()]
    run.push_latencies = latencies


def load(shop: Shop, rate: float, seconds: float, cpu_kinds: dict[str, Callable[[], list[int]]], sim: Any) -> Run:
    """One open-loop run at `rate` requests/s, then everything it started settled and measured."""
    run = Run(rate=rate, seconds=seconds)
    tag = f"load-{time.time_ns()}"
    cpu = ProcessCpu(cpu_kinds, sim)
    with ConnectionWatch() as watch:
        asyncio.run(_offer(shop, run, tag))
        settle(run)
    run.cpu_us_per_request = cpu.per_request_us(run.sent)
    run.pg_connections_peak = dict(sorted(watch.peak.items()))
    return run


def describe(name: str, run: Run) -> str:
    s = run.summary()
    return (
        f"{name}: offered {s['offered_per_second']:,.0f}/s, achieved {s['achieved_per_second']:,.0f}/s, "
        f"{s['requests']:,} requests {s['statuses']}; HTTP p50 {s['http_p50_ms']} p95 {s['http_p95_ms']} "
        f"p99 {s['http_p99_ms']} ms; push p50 {s['push_p50_ms']} p95 {s['push_p95_ms']} p99 {s['push_p99_ms']} ms "
        f"({s['pushes']:,} pushes, {s['unsettled']} unsettled); shed {s['shed']} (p99 {s['shed_p99_ms']} ms, "
        f"{s['shed_without_retry_after']} without Retry-After); PostgreSQL connections at peak "
        f"{s['pg_connections_peak']}; CPU µs per request {s['cpu_us_per_request']}; "
        f"{'holds' if s['holds'] else 'does not hold'}"
    )


def find_knee(measure: Callable[[float], Run], start: float, ceiling: float, steps: int = 4) -> tuple[float, list]:
    """The highest rate that holds BOUNDS: doubling from `start` until one fails, then bisecting."""
    tried: list[tuple[float, Run]] = []
    good, bad = 0.0, None
    rate = start
    while bad is None and rate <= ceiling:
        run = measure(rate)
        tried.append((rate, run))
        if run.holds():
            good, rate = rate, rate * 2
        else:
            bad = rate
    bad = bad or ceiling
    for _ in range(steps):
        rate = round((good + bad) / 2 / 10) * 10
        if rate in (0, good, bad):
            break
        run = measure(rate)
        tried.append((rate, run))
        good, bad = (rate, bad) if run.holds() else (good, rate)
    return good, tried


def overload(measure: Callable[[float], Run], rate: float, recover_rate: float) -> dict[str, Any]:
    """Three times `rate`, then `recover_rate` at once: is the excess refused fast, and does the API recover?"""
    heavy = measure(rate * 3)
    after = measure(recover_rate)
    return {"overload": heavy.summary(), "after": after.summary()}


def scenario(stack: Any, *, quick: bool) -> dict[str, Any]:
    """`python -m bench`'s api scenario, on its running stack."""
    from accounts.services import create_api_key
    from bench.scenarios import reset_state

    reset_state(stack)
    _, key = create_api_key(name="bench-api", scopes=["events:write", "notifications:write"])
    shop = Shop(stack.base_url, key, stack.devices)
    kinds = {
        "web": lambda: with_descendants([pid for pid in stack.web_pids if Path(f"/proc/{pid}").exists()]),
        "workers": lambda: [pid for pgid in stack.worker_pgids for pid in processes(pgid=pgid)],
    }
    seconds = 10 if quick else 60

    def measure(rate: float, length: float = 8 if quick else 15) -> Run:
        run = load(shop, rate, length, kinds, stack.sim)
        print(f"bench: api {describe(f'{rate:,.0f}/s', run)}", flush=True)
        return run

    target = measure(833, seconds)
    knee, tried = find_knee(measure, 100, 3200, steps=2 if quick else 4)
    return {
        "target": target.summary(),
        "knee_per_second": knee,
        "knee_runs": [run.summary() for _, run in tried],
        **overload(measure, knee or 50, (knee or 50) / 2),
    }


def sequential(shop: Shop, requests: int, web: Callable[[], list[int]]) -> dict[str, float]:
    """Single events one after another on one keep-alive connection: the web process's own cost per request,
    and the PostgreSQL sessions it opened for them (pg_stat_database.sessions)."""
    import httpx
    from django.db import connection

    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            return cursor.fetchone()[0]

    tag = f"seq-{time.time_ns()}"
    bodies = [shop.request(n * len(MIX), tag)[3] for n in range(requests)]  # every one an event
    with httpx.Client(base_url=shop.base_url, headers=shop.service_headers) as client:
        client.post("/api/v1/events/", json=bodies[0] | {"idempotency_key": f"{tag}-warm"})
        opened, cpu, started = sessions(), cpu_seconds(web()), time.perf_counter()
        for body in bodies:
            client.post("/api/v1/events/", json=body).raise_for_status()
        seconds = time.perf_counter() - started
        cpu_used, opened = cpu_seconds(web()) - cpu, sessions() - opened - 1  # less the one counting them
    return {
        "requests": requests,
        "per_second": requests / seconds,
        "web_cpu_ms_per_request": cpu_used / requests * 1000,
        "postgres_sessions_opened": opened,
    }


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop the processes started below
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=833, help="Requests a second (833 = 50,000 a minute).")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--devices", type=int, default=25_000, help="Shoppers (one device each, the shop's mix).")
    parser.add_argument("--knee", action="store_true", help="Then search the highest rate that holds the bounds.")
    parser.add_argument(
        "--overload", action="store_true", help="Then offer 3x the knee (or --rate), and half the knee after."
    )
    parser.add_argument("--quick", action="store_true", help="10 s at the rate, a short knee search.")
    parser.add_argument("--sequential", type=int, default=0, help="First, this many single events one by one.")
    args = parser.parse_args()

    from bench.stack import prepare_database

    prepare_database()
    from django.db import connection

    from accounts.services import create_api_key
    from bench.processes import celery_beat, celery_worker, web_process, worker_environment
    from bench.scenarios import build_shop
    from pushsim.control import running

    with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
        build_shop(sim, args.devices)
        _, key = create_api_key(name="bench-api", scopes=["events:write", "notifications:write"])
        connection.close()
        env = worker_environment(sim, settings_module="config.settings")
        with (
            web_process(env) as base,
            celery_beat(env) as beat,
            celery_worker(env, "transactional", "transactional", concurrency=2) as tx,
            celery_worker(
                {**env, "DATABASE_SYNCHRONOUS_COMMIT": "off"}, "marketing,default", "marketing", 2, nice=19
            ) as marketing,
        ):
            shop = Shop(base, key, args.devices)
            kinds = {
                "web": lambda: with_descendants(processes(cmdline="uvicorn config.asgi")),
                "workers": lambda: [p for w in (tx, marketing) for p in processes(pgid=w.process.pid)],
                "beat": lambda: [beat.pid],
            }

            def measure(rate: float, seconds: float = 10 if args.quick else 15) -> Run:
                run = load(shop, rate, seconds, kinds, sim)
                print(describe(f"{rate:,.0f}/s", run), flush=True)
                return run

            if args.sequential:
                print(f"one at a time: {sequential(shop, args.sequential, kinds['web'])}", flush=True)
            if args.seconds:
                measure(args.rate, args.seconds)
            knee = args.rate
            if args.knee:
                knee, _ = find_knee(measure, 100, 3200, steps=2 if args.quick else 4)
                print(f"knee: {knee:,.0f} requests/s", flush=True)
            if args.overload:
                overload(measure, knee, knee / 2)


if __name__ == "__main__":
    main()
