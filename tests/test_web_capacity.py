"""A running web process (uvicorn, as the Procfile runs it) under concurrency: its PostgreSQL connections stay
within its pool whatever the number of clients, and what it can't serve in time is refused with 503 and
Retry-After, never a 500 or a hang.

Before the pool and admission control (issue 16), 200 concurrent requests opened a PostgreSQL session each, and
bogus API keys alone drove one web process to dozens of connections.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from django.db import connection

from accounts.services import create_api_key
from bench.processes import database_environment, web_process
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def _dsn() -> str:
    database = connection.settings_dict
    return f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


class WebConnections:
    """The web process's PostgreSQL sessions (application_name pushcart-web), polled while the block runs."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        with psycopg.connect(_dsn(), autocommit=True) as watcher:
            while not self._stop.is_set():
                [(count,)] = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pushcart-web' "
                    "AND datname = current_database()"
                ).fetchall()
                self.peak = max(self.peak, count)
                self._stop.wait(0.02)

    def __enter__(self) -> WebConnections:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@contextmanager
def table_locked(table: str) -> Iterator[None]:
    """Hold an exclusive lock on `table` from another session: requests writing to it wait, holding a connection."""
    with psycopg.connect(_dsn()) as holder:
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
        holder.rollback()


def _event(n: int) -> dict:
    return {
        "type": "order_status_changed",
        "user_id": f"capacity-{n}",
        "idempotency_key": f"capacity-{n}",
        "data": {"order_id": str(n), "status": "cancelled"},
    }


async def _concurrently(base: str, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
    """POST every (authorization, body) to /api/v1/events/ at once, each on a connection of its own."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        return await asyncio.gather(
            *(client.post("/api/v1/events/", json=body, headers={"Authorization": auth}) for auth, body in requests)
        )


def test_connections_stay_within_the_pool_whatever_the_concurrency():
    _, key = create_api_key(name="capacity", scopes=["events:write"])
    env = database_environment(DATABASE_POOL_SIZE="4", WEB_THREADS="8", WEB_MAX_IN_FLIGHT="1000")
    # Half with a valid key, half with bogus ones (refused authentications used to cost a connection each too).
    requests = [(f"Api-Key {key}" if n % 2 else f"Api-Key bogus.{n}", _event(n)) for n in range(200)]
    with web_process(env) as base, WebConnections() as connections:
        answers = asyncio.run(_concurrently(base, requests))
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {202: 100, 401: 100}, statuses
    assert 0 < connections.peak <= 4


def test_an_exhausted_pool_answers_503_with_retry_after_then_recovers():
    _, key = create_api_key(name="capacity", scopes=["events:write"])
    env = database_environment(DATABASE_POOL_SIZE="1", WEB_THREADS="4", DATABASE_POOL_TIMEOUT="0.5")
    auth = {"Authorization": f"Api-Key {key}"}
    with web_process(env) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/api/v1/events/", json=_event(0), headers=auth).status_code == 202  # key verified
        results: dict[str, httpx.Response] = {}
        with table_locked("events_event"):
            # The first request takes the only connection and waits on the lock; the others can't get one.
            holder = threading.Thread(
                target=lambda: results.update(held=httpx.post(f"{base}/api/v1/events/", json=_event(1), headers=auth))
            )
            holder.start()
            wait_for(lambda: _waiting_on_lock() > 0, 10, "the first request to wait on the lock")
            answers = asyncio.run(_concurrently(base, [(auth["Authorization"], _event(n)) for n in range(2, 6)]))
        holder.join(30)
        assert results["held"].status_code == 202
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.json()["code"] == "unavailable"
            assert int(answer.headers["Retry-After"]) >= 1
        # Once the lock is gone the process serves again by itself.
        assert client.post("/api/v1/events/", json=_event(7), headers=auth).status_code == 202


def _waiting_on_lock() -> int:
    with psycopg.connect(_dsn(), autocommit=True) as watcher:
        [(count,)] = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pushcart-web' AND wait_event_type = 'Lock'"
        ).fetchall()
        return count


def test_past_its_capacity_the_process_refuses_at_once_and_says_so_on_readyz():
    _, key = create_api_key(name="capacity", scopes=["events:write"])
    env = database_environment(WEB_THREADS="2", WEB_MAX_IN_FLIGHT="2", OVERLOAD_READY_HOLD_SECONDS="1")
    auth = {"Authorization": f"Api-Key {key}"}
    with web_process(env) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/readyz").status_code == 200
        held: list[httpx.Response] = []
        with table_locked("events_event"):
            holders = [
                threading.Thread(
                    target=lambda n=n: held.append(httpx.post(f"{base}/api/v1/events/", json=_event(n), headers=auth))
                )
                for n in range(2)
            ]
            for thread in holders:
                thread.start()
            wait_for(lambda: _waiting_on_lock() == 2, 10, "two requests to wait on the lock")
            refused = client.post("/api/v1/events/", json=_event(9), headers=auth)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert refused.json() == {"detail": "The server is busy; retry after 1 s.", "code": "unavailable"}
            ready = client.get("/readyz")  # answered at once, though both threads are busy
            assert ready.status_code == 503
            assert ready.json()["checks"]["capacity"].startswith("overloaded")
        for thread in holders:
            thread.join(30)
        assert [answer.status_code for answer in held] == [202, 202]  # nothing admitted was dropped
        wait_for(lambda: client.get("/readyz").status_code == 200, 10, "/readyz to say ready again")
        assert client.post("/api/v1/events/", json=_event(10), headers=auth).status_code == 202
