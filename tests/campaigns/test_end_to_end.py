"""Campaigns through real worker processes with beat: a scheduled start, and pause/resume mid fan-out."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from bench.processes import celery_worker, worker_environment
from campaigns import services
from campaigns.models import Campaign, CampaignRun, CampaignStatus
from devices.models import Device
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
