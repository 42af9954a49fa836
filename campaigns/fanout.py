"""A campaign run's fan-out: the audience streamed page by page into the delivery engine.

Each page is one transaction under a lock on the run: read the cursor (the last user id done), take the
next page of the segment after it (keyset pagination), store its shoppers as batches that workers send
(campaigns.batches; a local-time campaign stores one scheduled notification per shopper instead), move
the cursor. A page task that finds the cursor moved, or the run not sending, does nothing, so a duplicate
or late task can't send anyone twice (and a unique index on run and user makes sure). Memory holds one
page whatever the audience size. A throttle paces the pages: each page is as many sends as the
throttle allows in CAMPAIGN_THROTTLE_STEP_SECONDS (10), and the next page is due that much later; its task is
queued when the page commits.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audience.selectors import audience_page
from campaigns import batches, queues
from campaigns.messages import notifications_for
from campaigns.models import Campaign, CampaignRun, RunStatus, ScheduleKind
from notifications import engine

PAGE_SIZE = 1000


def page_size(campaign: Campaign) -> int:
    if campaign.throttle_per_minute:
        step = settings.CAMPAIGN_THROTTLE_STEP_SECONDS
        return max(1, min(PAGE_SIZE, campaign.throttle_per_minute * step // 60))
    return PAGE_SIZE


def fan_out_page(run_id: int, expected_cursor: str) -> str | None:
    """Fan out the page after `expected_cursor`; returns the new cursor, or None when there is nothing to do."""
    with transaction.atomic():
        # The page's batch holds the notification ids its pushes go out under, and the ledger of accepted pushes
        # knows them by (notifications.ledger): once the batch can be sent they must survive a crash, so this
        # commit waits for the WAL flush even in the marketing workers, which otherwise don't
        # (DATABASE_SYNCHRONOUS_COMMIT). One flush a page. (A failover to an asynchronous replica can still lose it.)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = on")
        run = (
            CampaignRun.objects.select_for_update(of=("self",))
            .select_related("campaign__segment")
            .filter(pk=run_id)
            .first()
        )
        if run is None or run.status != RunStatus.SENDING or run.fanned_out_at or run.cursor != expected_cursor:
            return None
        campaign = run.campaign
        size = page_size(campaign)
        members = audience_page(campaign.segment, after=run.cursor, limit=size)
        if campaign.schedule == ScheduleKind.LOCAL:  # each waits for its shopper's own local time
            engine.store(notifications_for(run, members))
        else:
            batches.store(run, members)
        now = timezone.now()
        run.targeted += len(members)
        if members:
            run.cursor = members[-1].user_id
        if len(members) < size:
            run.fanned_out_at = now
            run.next_page_at = None
        else:
            pause = settings.CAMPAIGN_THROTTLE_STEP_SECONDS if campaign.throttle_per_minute else 0
            run.next_page_at = now + timedelta(seconds=pause)
        run.save(update_fields=["targeted", "cursor", "fanned_out_at", "next_page_at"])
        if not run.fanned_out_at:
            # Queued by this page's commit: a page task that failed after its page committed (PostgreSQL went
            # away) would be retried, find its cursor moved, and queue nothing (the sweep's wait, issue 21).
            queues.fan_out_page(run.pk, run.cursor, eta=run.next_page_at)
    return None if run.fanned_out_at else run.cursor
