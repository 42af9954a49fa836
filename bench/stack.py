"""What every benchmark runs on: its own database and Redis, a simulator, a web process and workers.

Importing this module points the process at the benchmark's database (`pushcart_bench`, or $BENCH_DATABASE) and
Redis database 14 (or $BENCH_REDIS) and ignores `.env`, so a benchmark never touches development data.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

# Overridable, so that a benchmark can run beside another on a database and Redis db of its own.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "postgresql://postgres@127.0.0.1:5432/pushcart_bench")
BENCH_REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
ROOT = Path(__file__).resolve().parents[1]

os.environ.update(
    DATABASE_URL=BENCH_DATABASE,
    REDIS_URL=BENCH_REDIS,
    CELERY_BROKER_URL=BENCH_REDIS,
    DJANGO_SETTINGS_MODULE="config.settings",
    PUSHCART_ENV_FILE=os.devnull,
    # Benchmarks measure sending: no default quiet hours (they would defer a night-time run's promotions).
    QUIET_HOURS_START="00:00",
    QUIET_HOURS_END="00:00",
    # A load test: the per-key API rate limit (600/minute by default) would refuse the order stream.
    PUSHCART_THROTTLE_USER="1000000/minute",
    # The simulator's Web Push endpoints are http://127.0.0.1:<port>/wp/…, allowed by development settings only.
    WEB_PUSH_ALLOW_HTTP_ENDPOINTS="1",
    WEB_PUSH_ALLOW_PRIVATE_ADDRESSES="1",
)
os.environ.setdefault("WEB_CONCURRENCY", "2")  # uvicorn's worker processes, as in the Procfile
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))
os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(40))


def prepare_database() -> None:
    """Create and migrate the benchmark database, set Django up, and empty the benchmark's Redis."""
    subprocess.run([sys.executable, "scripts/create_database.py"], cwd=ROOT, check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    import redis

    redis.Redis.from_url(BENCH_REDIS).flushdb()


def empty_tables(*tables: str) -> None:
    """Empty the tables, and every table whose rows point at them, in one TRUNCATE … CASCADE.

    Not DELETE: run after run, deleted rows pile up in the tables every benchmark reads (1,510,000 dead device
    rows were found once, and a fan-out's PostgreSQL CPU per delivery had grown fourfold).
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def wait_for_push(sim, token: str, before: int, timeout: float = 30) -> float:  # type: ignore[no-untyped-def]
    """Wait until the simulator has more than `before` messages for `token`; returns the last one's arrival time."""
    deadline = time.monotonic() + timeout
    while sim.received(token).get(token, 0) == before:
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing delivered to {token} within {timeout} s")
        time.sleep(0.002)
    return sim.messages(token)[-1]["received_at"]
