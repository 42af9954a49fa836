"""Beat through a PostgreSQL outage (issue 21): its scheduler keeps the schedule it holds.

django-celery-beat reads the whole schedule again every five minutes; a read that met PostgreSQL away escaped its
tick and ended beat. Here the outage is real: the connection is pointed at a port nobody listens on (refused).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

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
