"""The frequency cap holds when many worker processes send to the same shopper at the same moment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bench.processes import celery_worker, worker_environment
from devices.services import register_device
from notifications.engine import Content, submit
from notifications.models import OPEN_DELIVERY_STATUSES, Delivery, Notification, NotificationStatus
from preferences.models import FrequencyCap
from protection import frequency
from protection.outcomes import PolicyOutcome
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SENDS = 50
CAP = 5


def test_fifty_concurrent_marketing_sends_to_one_shopper_yield_exactly_the_cap(simulator):
    simulator.reset()
    register_device(user_id="popular", platform="android", token="ok-caps-popular")
    FrequencyCap.objects.filter(window=timedelta(days=1)).update(max_pushes=CAP)
    # All 50 are queued (one task each) before any worker runs, so the workers race for them.
    for n in range(SENDS):
        submit(
            user_ids=["popular"],
            content=Content(title=f"Deal {n}", body="-10%", category="promotions"),
            source="api",
        )
    env = worker_environment(simulator)
    with (
        celery_worker(env, "marketing", "caps-a", concurrency=3),
        celery_worker(env, "marketing", "caps-b", concurrency=3),
    ):
        wait_for(
            lambda: not Notification.objects.filter(status=NotificationStatus.PENDING).exists(), 60, "every send judged"
        )
        # Then the last batch's pushes: no delivery is left on its way to the simulator.
        wait_for(lambda: not Delivery.objects.filter(status__in=OPEN_DELIVERY_STATUSES).exists(), 30, "the last pushes")
    outcomes = list(Notification.objects.values_list("status", "policy"))
    assert outcomes.count((NotificationStatus.SENDING, "")) == CAP
    assert outcomes.count((NotificationStatus.SUPPRESSED, PolicyOutcome.CAPPED)) == SENDS - CAP
    assert simulator.received("ok-caps-popular") == {"ok-caps-popular": CAP}
    assert frequency.counts("popular", [86400]) == {86400: CAP}
