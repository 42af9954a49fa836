"""What the processes do while PostgreSQL is away (issue 21), with the outage real: the connection is pointed at a
port nobody listens on (refused), or at a socket that accepts and never answers.

Beat: django-celery-beat reads the whole schedule again every five minutes, and a read that met PostgreSQL away
escaped its tick and ended beat; its scheduler here keeps the schedule it holds. A connection that is never
answered gives up after DATABASE_CONNECT_TIMEOUT_SECONDS instead of holding its process forever.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError, connection

from bench.processes import pointed_at
from config.beat import DatabaseScheduler
from config.celery import app
from pushsim.control import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def test_beat_keeps_its_schedule_when_its_full_read_meets_postgresql_away():
    scheduler = DatabaseScheduler(app=app)
    held = set(scheduler.schedule)
    assert "sweep-stuck-deliveries" in held
    scheduler._last_full_sync -= timedelta(minutes=10)  # the five-minute full read is due at the next tick

    with pointed_at(f"postgresql://postgres@127.0.0.1:{free_port()}/away"):
        scheduler.tick()  # would raise OperationalError with django-celery-beat's own scheduler
        assert set(scheduler.schedule) == held

    scheduler._last_full_sync -= timedelta(minutes=10)
    scheduler.tick()  # PostgreSQL back: read again
    assert set(scheduler.schedule) == held


def test_a_connection_never_answered_fails_after_the_connect_timeout():
    def connect() -> float:
        started = time.monotonic()
        with pytest.raises(OperationalError):
            connection.ensure_connection()
        return time.monotonic() - started

    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's backlog), never answers
    pool = ThreadPoolExecutor(1)
    try:
        with pointed_at(f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/silent"):
            waited = pool.submit(connect).result(timeout=settings.DATABASE_CONNECT_TIMEOUT_SECONDS + 10)
    finally:
        silent.close()  # a connection still waiting (no timeout) is reset, and its thread ends
        pool.shutdown(wait=False)
    assert settings.DATABASE_CONNECT_TIMEOUT_SECONDS - 0.5 < waited < settings.DATABASE_CONNECT_TIMEOUT_SECONDS + 2
