"""How a campaign's work is handed to the workers: after commit, by task name, on the marketing queue.

Named (config.celery.enqueue) so that the services, fan-out and batches that queue work don't import the tasks
module, which imports them.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction

from config.celery import enqueue

QUEUE = settings.QUEUE_MARKETING
FAN_OUT_PAGE = "campaigns.tasks.fan_out_page"
SEND_BATCH = "campaigns.tasks.send_batch"
START_RECURRING_RUN = "campaigns.tasks.start_recurring_run"


def fan_out_page(run_id: int, cursor: str, *, eta: datetime | None = None) -> None:
    """Queue a page of a run's audience (at `eta`: the throttle's pause), once the caller's transaction commits."""
    transaction.on_commit(lambda: enqueue(FAN_OUT_PAGE, args=[run_id, cursor], queue=QUEUE, eta=eta))


def send_batches(batch_ids: list[int]) -> None:
    """Queue each batch's task once the caller's transaction commits."""

    def send_all() -> None:
        for pk in batch_ids:
            enqueue(SEND_BATCH, args=[pk], queue=QUEUE)

    transaction.on_commit(send_all)
