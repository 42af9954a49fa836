"""Celery tasks (beat): thin. The work is in rollup.py."""

from __future__ import annotations

from celery import shared_task

from analytics import rollup


@shared_task(name="analytics.tasks.roll_up", acks_late=True)
def roll_up() -> dict[str, int]:
    """Beat, every ANALYTICS_ROLLUP_INTERVAL_SECONDS: count what was written since the last run, once."""
    return rollup.catch_up()


@shared_task(name="analytics.tasks.forget_old_rollups", acks_late=True)
def forget_old_rollups() -> int:
    """Beat, daily: rollups older than ANALYTICS_ROLLUP_RETENTION_DAYS."""
    return rollup.forget_old_rollups()
