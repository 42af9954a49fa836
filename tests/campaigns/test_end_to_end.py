"""Campaigns through real worker processes: a scheduled start, pause/resume mid fan-out, a worker killed."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from bench.processes import celery_worker, worker_environment
from campaigns import services
from campaigns.models import BatchStatus, Campaign, CampaignBatch, CampaignRun, CampaignStatus
from campaigns.tasks import resume_lost_fan_outs
from devices.models import Device
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus, Source
from templates.models import MessageTemplate
from tests.waiting import wait_for

from .conftest import segment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def status(campaign: Campaign) -> str:
    return Campaign.objects.values_list("status", flat=True).get(pk=campaign.pk)


def audience(prefix: str, count: int) -> None:
    Device.objects.bulk_create(
        Device(user_id=f"{prefix}-{i:04d}", platform="android", provider="fcm", token=f"ok-{prefix}-{i}")
        for i in range(count)
    )


def promotion() -> MessageTemplate:
    return MessageTemplate.objects.create(key="e2e", name="e2e", category="promotions", title="Deals", body="b")


def test_a_scheduled_campaign_starts_at_its_time_and_completes(simulator):
    simulator.reset()
    audience("sched", 50)
    send_at = timezone.now() + timedelta(seconds=4)
    c = Campaign.objects.create(
        name="At four", template=promotion(), segment=segment("all"), schedule="at", send_at=send_at
    )
    services.launch(c)
    with celery_worker(worker_environment(simulator), "transactional,marketing,default", "sched", beat=True):
        wait_for(lambda: status(c) == CampaignStatus.SENDING, 15, "beat to start the campaign")
        run = c.runs.get()
        assert run.started_at >= send_at  # not before its time
        wait_for(lambda: status(c) == CampaignStatus.COMPLETED, 30, "the campaign to complete")
    assert simulator.received("ok-sched-") == {f"ok-sched-{i}": 1 for i in range(50)}


def test_pause_stops_the_fan_out_and_resume_finishes_with_nobody_twice(simulator):
    simulator.reset()
    audience("pause", 400)
    # 3,000 a minute with a 2 s step: pages of 100, one every 2 s.
    c = Campaign.objects.create(name="Paced", template=promotion(), segment=segment("all"), throttle_per_minute=3000)
    env = worker_environment(simulator, CAMPAIGN_THROTTLE_STEP_SECONDS="2")
    with celery_worker(env, "transactional,marketing,default", "pause", beat=True):
        services.launch(c)  # the worker's pages follow its own CAMPAIGN_THROTTLE_STEP_SECONDS
        run = c.runs.get()
        wait_for(lambda: CampaignRun.objects.get(pk=run.pk).targeted >= 100, 15, "the first page")
        services.pause(Campaign.objects.get(pk=c.pk))
        paused_at = CampaignRun.objects.get(pk=run.pk).targeted
        time.sleep(4)  # two more page intervals: nothing more may go out
        assert CampaignRun.objects.get(pk=run.pk).targeted == paused_at < 400
        sent_while_paused = sum(simulator.received("ok-pause-").values())
        assert sent_while_paused == paused_at
        services.resume(Campaign.objects.get(pk=c.pk))
        wait_for(lambda: status(c) == CampaignStatus.COMPLETED, 40, "the campaign to complete")
    assert simulator.received("ok-pause-") == {f"ok-pause-{i}": 1 for i in range(400)}


def test_a_worker_killed_mid_campaign_loses_nobody_and_counts_nobody_twice_against_caps(simulator, settings):
    """SIGKILL while batches are being sent; a new worker and the sweep finish the campaign.

    A killed batch's transaction rolls back, so it is sent again under the same notification ids.
    How we know nobody is lost: each shopper has one notification, delivered, and the simulator got
    every token. How we know the caps counted nobody twice: the campaign allows one push a day, and
    nobody's resent batch was suppressed as capped. Pushes accepted by the provider and not yet
    recorded at the kill (the documented window) are the only ones received twice.
    """
    simulator.reset()
    simulator.configure(latency_ms=100)
    settings.CAMPAIGN_BATCH_STUCK_AFTER_SECONDS = 2
    settings.CAMPAIGN_PAGE_STUCK_AFTER_SECONDS = 2
    audience("crash", 3000)
    c = Campaign.objects.create(name="Crash", template=promotion(), segment=segment("all"), max_per_user_per_day=1)
    env = worker_environment(simulator)
    with celery_worker(env, "transactional,marketing,default", "doomed") as doomed:
        services.launch(c)
        # Killed while a batch is half sent: pushes accepted by the provider, not yet recorded.
        wait_for(lambda: len(simulator.received("ok-crash-")) - delivered() >= 100, 60, "a batch to be under way")
        doomed.kill()
    accepted = set(simulator.received("ok-crash-"))
    recorded = set(Delivery.objects.filter(status=DeliveryStatus.DELIVERED).values_list("device__token", flat=True))
    in_flight = accepted - recorded
    assert recorded <= accepted and in_flight, "the kill missed the window it is meant to test"

    def rescued() -> bool:
        resume_lost_fan_outs()  # what beat runs every minute: lost pages and batches
        return CampaignBatch.objects.filter(status=BatchStatus.DONE).count() >= 3  # a page of 1,000 shoppers each

    with celery_worker(env, "transactional,marketing,default", "rescuer"):
        wait_for(rescued, 120, "a new worker to finish the campaign's three batches", interval=0.5)

    assert delivered() == 3000
    received = simulator.received("ok-crash-")
    assert len(received) == 3000  # nobody lost
    twice = {token for token, count in received.items() if count > 1}
    assert twice <= in_flight, twice - in_flight
    notifications = Notification.objects.filter(source=Source.CAMPAIGN)
    assert notifications.count() == 3000 and notifications.values("user_id").distinct().count() == 3000
    assert set(notifications.values_list("status", flat=True)) == {NotificationStatus.SENDING}  # none capped
    assert set(CampaignBatch.objects.values_list("status", flat=True)) == {BatchStatus.DONE}


def delivered() -> int:
    return Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count()
