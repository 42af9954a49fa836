"""The sweep of lost work, and the shared provider rate limit."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import waiting_messages
from notifications import dispatch, rate_limit
from notifications.engine import Content, submit
from notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


def stale_pending_notification() -> int:
    [pk] = submit(
        user_ids=["lost"], content=Content(title="t", body="b", category="promotions"), source="api"
    ).notification_ids
    Notification.objects.filter(pk=pk).update(updated_at=timezone.now() - timedelta(hours=1))
    return pk


def test_the_sweep_leaves_work_that_is_waiting_in_a_busy_queue(settings):
    stale_pending_notification()  # its task is in the marketing queue: waiting, not lost
    assert waiting_messages("marketing") == 1
    assert dispatch.sweep_stuck() == {"deliveries": 0, "notifications": 0}


def test_the_sweep_requeues_work_whose_message_was_lost(clean_redis):
    pk = stale_pending_notification()
    clean_redis.flushdb()  # the broker lost the message (a Redis restart without persistence)
    assert dispatch.sweep_stuck() == {"deliveries": 0, "notifications": 1}
    assert waiting_messages("marketing") == 1
    assert Notification.objects.get(pk=pk).updated_at > timezone.now() - timedelta(minutes=1)


def test_a_campaign_batch_whose_message_was_lost_is_queued_again_once_the_queue_is_idle(clean_redis):
    from audience.models import Segment
    from campaigns import batches
    from campaigns.fanout import fan_out_page
    from campaigns.models import Campaign, CampaignBatch, CampaignRun
    from devices.models import Device
    from templates.models import MessageTemplate

    Device.objects.create(user_id="lost", platform="android", provider="fcm", token="ok-lost")
    template = MessageTemplate.objects.create(key="k", name="k", category="promotions", title="t", body="b")
    campaign = Campaign.objects.create(name="c", template=template, segment=Segment.objects.create(name="all"))
    run = CampaignRun.objects.create(campaign=campaign)
    fan_out_page(run.pk, "")  # its batch's task waits in the marketing queue
    CampaignBatch.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    assert batches.requeue_lost() == 0  # waiting its turn, not lost
    clean_redis.flushdb()  # the broker lost the message (a Redis restart without persistence)
    assert batches.requeue_lost() == 1
    assert waiting_messages("marketing") == 1
    assert batches.waiting_shoppers([run.pk]) == 1


def test_the_rate_limit_queues_sends_past_the_rate_instead_of_failing(settings):
    settings.PROVIDER_RATE_LIMITS = {"fcm": 100}
    assert rate_limit.reserve("fcm", 100) == 0  # the burst
    wait = rate_limit.reserve("fcm", 50)  # 50 more at 100/s: half a second later
    assert 0.4 <= wait <= 0.6
    started = time.monotonic()
    rate_limit.wait_for("fcm", 10)  # behind the 50: about 0.6 s
    assert time.monotonic() - started >= 0.4
    assert rate_limit.reserve("apns", 10_000) == 0  # no limit set for APNs
