"""Celery tasks of campaigns: thin, idempotent, carrying ids only."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from campaigns import batches, fanout, progress, queues, services
from campaigns.models import CampaignRun, RunStatus
from config.celery import RETRY_WHILE_DATABASE_AWAY, waiting_messages


@shared_task(name=queues.FAN_OUT_PAGE, acks_late=True, **RETRY_WHILE_DATABASE_AWAY)
def fan_out_page(run_id: int, cursor: str) -> str | None:
    """One page of a run's audience; its commit queues the next (after the throttle's pause)."""
    return fanout.fan_out_page(run_id, cursor)


@shared_task(name=queues.SEND_BATCH, acks_late=True, **RETRY_WHILE_DATABASE_AWAY)
def send_batch(batch_id: int) -> dict[str, int]:
    """One batch of a run's shoppers: judged, sent and written at once."""
    return batches.send(batch_id)


@shared_task(name="campaigns.tasks.start_due", acks_late=True)
def start_due() -> int:
    return services.start_due()


@shared_task(name=queues.START_RECURRING_RUN, acks_late=True, **RETRY_WHILE_DATABASE_AWAY)
def start_recurring_run(campaign_id: int) -> int | None:
    run = services.start_recurring_run(campaign_id)
    return run.pk if run else None


@shared_task(name="campaigns.tasks.broadcast_progress", acks_late=True)
def broadcast_progress() -> int:
    return progress.broadcast()


@shared_task(name="campaigns.tasks.resume_lost_fan_outs", acks_late=True)
def resume_lost_fan_outs() -> int:
    """Beat: a run whose next page is overdue, or a batch waiting, lost its task: queue it again.

    Only while the marketing queue is empty: a busy queue may just hold them (an unthrottled fan-out's next page
    waits behind its batches). A page task that finds the cursor moved does nothing, so a false alarm costs one
    query.
    """
    from datetime import timedelta

    from django.utils import timezone

    if waiting_messages(queues.QUEUE):
        return 0
    overdue = CampaignRun.objects.filter(
        status=RunStatus.SENDING,
        fanned_out_at__isnull=True,
        next_page_at__lt=timezone.now() - timedelta(seconds=settings.CAMPAIGN_PAGE_STUCK_AFTER_SECONDS),
    ).values_list("pk", "cursor")
    for run_id, cursor in overdue:
        queues.fan_out_page(run_id, cursor)
    return len(overdue) + batches.requeue_lost()
