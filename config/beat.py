"""Beat's scheduler: django-celery-beat's, riding through a PostgreSQL outage (issue 21).

django-celery-beat keeps the schedule in PostgreSQL. At each tick it asks whether the schedule changed, and an
error there is logged and taken as "no"; but every five minutes it also reads the whole schedule again, and an
error there escaped the tick and ended beat: a restart or a failover that overlapped that read stopped every
periodic task (dispatch of retries and scheduled sends, the sweeps, progress) until someone restarted beat. Here a
read that fails keeps the schedule beat already holds, and the next tick asks again.
"""

from __future__ import annotations

import logging
from typing import Any

from django_celery_beat.schedulers import DatabaseScheduler as StockDatabaseScheduler

from config.celery import DATABASE_AWAY

logger = logging.getLogger(__name__)


class DatabaseScheduler(StockDatabaseScheduler):
    """django-celery-beat's database scheduler; while PostgreSQL is away it keeps the schedule it has."""

    @property
    def schedule(self) -> dict[str, Any]:
        try:
            return super().schedule
        except DATABASE_AWAY as exc:
            logger.warning("PostgreSQL is away (%s): keeping the schedule read before", exc)
            if self._schedule is None:  # not read yet: read it at the next tick
                self._initial_read = True
                return {}
            return self._schedule
