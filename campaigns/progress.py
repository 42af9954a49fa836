"""A campaign's live progress and results: counted in PostgreSQL, pushed to admin pages over the channel layer."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from datetime import timedelta

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from campaigns import batches
from campaigns.models import BatchStatus, Campaign, CampaignBatch, CampaignRun, CampaignStatus, RunStatus, ScheduleKind
from campaigns.results import live_results
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus, Source

logger = logging.getLogger(__name__)

OPEN_DELIVERIES = [DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.RETRY_SCHEDULED]
WAITING_NOTIFICATIONS = [NotificationStatus.PENDING, NotificationStatus.SCHEDULED]
RECENT = timedelta(seconds=30)  # finished runs keep being broadcast this long, so open pages see the end
WATCH_REFRESH_SECONDS = 10
# Results (rates, significance, chart) are recounted at most this often per campaign, or after
# CAMPAIGN_PROGRESS_COST_FACTOR times their last count's time if that is longer.
RESULTS_MIN_INTERVAL_SECONDS = 2
# Campaigns whose results changed since their pages were last sent them: a Redis sorted set of "r:<run id>"
# (one of its pushes was opened) and "c:<campaign id>" (a page connected), scored by when. A change nobody
# watches is dropped after RESULTS_CHANGE_KEPT_SECONDS.
RESULTS_CHANGED_KEY = "pc:campaign-results-changed"
RESULTS_CHANGE_KEPT_SECONDS = 60


@dataclass(frozen=True)
class Progress:
    campaign_id: int
    status: str
    status_label: str
    targeted: int  # shoppers selected so far
    queued: int  # notifications not yet turned into deliveries, and deliveries not yet finished
    delivered: int  # deliveries the provider accepted
    failed: int
    suppressed: int  # held back by shopper protection, or no active device
    fanned_out: bool

    def as_message(self) -> dict:
        return asdict(self)


def group_name(campaign_id: int) -> str:
    return f"campaign-progress-{campaign_id}"


def snapshot(campaign: Campaign) -> Progress:
    runs = CampaignRun.objects.filter(campaign=campaign)
    totals = runs.aggregate(targeted=Sum("targeted"), open=Count("pk", filter=Q(fanned_out_at__isnull=True)))
    run_ids = list(runs.values_list("pk", flat=True))
    refs = [str(pk) for pk in run_ids]
    notifications = dict(
        Notification.objects.filter(source=Source.CAMPAIGN, source_ref__in=refs)
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    deliveries = dict(
        Delivery.objects.filter(notification__source=Source.CAMPAIGN, notification__source_ref__in=refs)
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return Progress(
        campaign_id=campaign.pk,
        status=campaign.status,
        status_label=campaign.get_status_display(),
        targeted=totals["targeted"] or 0,
        queued=sum(notifications.get(s, 0) for s in WAITING_NOTIFICATIONS)
        + sum(deliveries.get(s, 0) for s in OPEN_DELIVERIES)
        + batches.waiting_shoppers(run_ids),
        delivered=deliveries.get(DeliveryStatus.DELIVERED, 0),
        failed=deliveries.get(DeliveryStatus.FAILED, 0)
        + deliveries.get(DeliveryStatus.TOKEN_INVALID, 0)
        + notifications.get(NotificationStatus.FAILED, 0),
        suppressed=notifications.get(NotificationStatus.SUPPRESSED, 0)
        + notifications.get(NotificationStatus.NO_DEVICE, 0),
        fanned_out=bool(refs) and not totals["open"],
    )


def finish_runs() -> list[int]:
    """Runs fanned out with nothing left to send are completed; their campaigns too (recurring ones wait again)."""
    finished = []
    for run in CampaignRun.objects.filter(status=RunStatus.SENDING, fanned_out_at__isnull=False).select_related(
        "campaign"
    ):
        ref = str(run.pk)
        waiting = Notification.objects.filter(source=Source.CAMPAIGN, source_ref=ref, status__in=WAITING_NOTIFICATIONS)
        open_deliveries = Delivery.objects.filter(
            notification__source=Source.CAMPAIGN, notification__source_ref=ref, status__in=OPEN_DELIVERIES
        )
        unsent = CampaignBatch.objects.filter(run=run, status=BatchStatus.PENDING)
        if unsent.exists() or waiting.exists() or open_deliveries.exists():
            continue
        with transaction.atomic():
            if not CampaignRun.objects.filter(pk=run.pk, status=RunStatus.SENDING).update(
                status=RunStatus.COMPLETED, finished_at=timezone.now()
            ):
                continue
            after = (
                CampaignStatus.SCHEDULED
                if run.campaign.schedule == ScheduleKind.RECURRING
                else CampaignStatus.COMPLETED
            )
            Campaign.objects.filter(pk=run.campaign_id, status=CampaignStatus.SENDING).update(
                status=after, updated_at=timezone.now()
            )
        finished.append(run.pk)
    return finished


def broadcast() -> int:
    """Beat, every second: finish what is done, then send each live campaign's progress to its admin pages,
    and the results of live campaigns and of those whose results changed (opens). Returns campaigns sent to.

    Only campaigns whose page is open are counted (see `watch`). A snapshot counts all of a
    campaign's rows, so a large campaign's next one waits CAMPAIGN_PROGRESS_COST_FACTOR times as
    long as its last one took: counting a million deliveries every second would cost PostgreSQL
    more than sending them. A run that has just finished is counted at once, so its pages show the end.
    Results are heavier (a lateral join per push, the chart's buckets) and rest at least
    RESULTS_MIN_INTERVAL_SECONDS: however many opens arrive, a campaign's results are counted once per rest,
    once for all its open pages; an open during the rest stays marked and is counted when the rest ends.
    """
    just_finished = set(CampaignRun.objects.filter(pk__in=finish_runs()).values_list("campaign_id", flat=True))
    since = timezone.now() - RECENT
    live = set(
        CampaignRun.objects.filter(
            Q(status__in=[RunStatus.SENDING, RunStatus.PAUSED]) | Q(finished_at__gte=since)
        ).values_list("campaign_id", flat=True)
    )
    changed = _changed_results()
    layer = get_channel_layer()
    sent = 0
    for campaign in Campaign.objects.filter(pk__in=live | set(changed)):
        if not cache.get(_watched_key(campaign.pk)):
            continue  # nobody to send it to
        finished = campaign.pk in just_finished
        told = False
        if campaign.pk in live and (finished or not cache.get(_resting_key(campaign.pk))):
            started = time.monotonic()
            message = snapshot(campaign).as_message()
            _rest(campaign.pk, (time.monotonic() - started) * settings.CAMPAIGN_PROGRESS_COST_FACTOR)
            async_to_sync(layer.group_send)(group_name(campaign.pk), {"type": "progress", "progress": message})
            told = True
        if finished or not cache.get(_results_resting_key(campaign.pk)):
            # Forgotten before counting: a change from now on is marked again and counted next time.
            _forget_changes(changed.get(campaign.pk, []))
            started = time.monotonic()
            found = live_results(campaign, fresh=True)
            rest = (time.monotonic() - started) * settings.CAMPAIGN_PROGRESS_COST_FACTOR
            cache.set(_results_resting_key(campaign.pk), 1, timeout=max(RESULTS_MIN_INTERVAL_SECONDS, math.ceil(rest)))
            async_to_sync(layer.group_send)(group_name(campaign.pk), {"type": "results", "results": found})
            told = True
        sent += told
    return sent


def results_changed(run_ref: str) -> None:
    """One of the run's pushes was opened: its campaign's open pages get new results at the beat's next count.

    Called for every open the app reports, so it does one Redis write and nothing else: the counting is the
    beat's (see broadcast), at most once per campaign per rest, for all of its pages together.
    """
    _mark_changed(f"r:{run_ref}")


def results_wanted(campaign_id: int) -> None:
    """A page (re)connected: send its campaign's current results at the next count (with any other page's)."""
    _mark_changed(f"c:{campaign_id}")


def _mark_changed(member: str) -> None:
    from config.redis_client import client

    try:
        client().zadd(RESULTS_CHANGED_KEY, {member: time.time()})
    except redis.RedisError:
        # An open is recorded in PostgreSQL whatever happens here; its page shows it at the next change.
        logger.warning("campaign results: Redis unavailable, %s not marked as changed", member)


def _changed_results() -> dict[int, list[str]]:
    """Campaign id → its members of RESULTS_CHANGED_KEY (changes not yet sent); stale ones are dropped first."""
    from config.redis_client import client

    try:
        pipe = client().pipeline()
        pipe.zremrangebyscore(RESULTS_CHANGED_KEY, "-inf", time.time() - RESULTS_CHANGE_KEPT_SECONDS)
        pipe.zrange(RESULTS_CHANGED_KEY, 0, -1)
        members = [m.decode() for m in pipe.execute()[1]]
    except redis.RedisError:
        logger.warning("campaign results: Redis unavailable, changed results not read")
        return {}
    found: dict[int, list[str]] = {}
    runs: dict[int, list[str]] = {}
    for member in members:
        kind, _, ref = member.partition(":")
        if not ref.isdigit():
            continue
        if kind == "c":
            found.setdefault(int(ref), []).append(member)
        elif kind == "r":
            runs.setdefault(int(ref), []).append(member)
    for run_id, campaign_id in CampaignRun.objects.filter(pk__in=runs).values_list("pk", "campaign_id"):
        found.setdefault(campaign_id, []).extend(runs[run_id])
    return found


def _forget_changes(members: list[str]) -> None:
    if not members:
        return
    from config.redis_client import client

    try:
        client().zrem(RESULTS_CHANGED_KEY, *members)
    except redis.RedisError:
        logger.warning("campaign results: Redis unavailable, changes not forgotten (counted again next tick)")


def watch(campaign_id: int) -> None:
    """An open page of the campaign says so every WATCH_REFRESH_SECONDS; counting stops a while after the last."""
    cache.set(_watched_key(campaign_id), 1, timeout=3 * WATCH_REFRESH_SECONDS)


def _watched_key(campaign_id: int) -> str:
    return f"campaign-progress-watched:{campaign_id}"


def _resting_key(campaign_id: int) -> str:
    return f"campaign-progress-rest:{campaign_id}"


def _results_resting_key(campaign_id: int) -> str:
    return f"campaign-results-rest:{campaign_id}"


def _rest(campaign_id: int, seconds: float) -> None:
    # Beat ticks every second: a rest shorter than two ticks is no rest (the cache counts whole seconds).
    if seconds >= 1.5:
        cache.set(_resting_key(campaign_id), 1, timeout=math.ceil(seconds))
