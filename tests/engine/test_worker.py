"""The engine with real Celery worker processes: queues, and a worker killed mid-batch."""

from __future__ import annotations

import pytest
from django.db.models import Max

from bench.processes import celery_worker, worker_environment
from devices.models import Device
from notifications import dispatch
from notifications.engine import Content, submit
from notifications.models import Delivery, DeliveryStatus, Notification
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def devices(prefix: str, count: int) -> list[str]:
    Device.objects.bulk_create(
        Device(user_id=f"{prefix}-user-{i}", platform="android", provider="fcm", token=f"ok-{prefix}-{i}")
        for i in range(count)
    )
    return [f"{prefix}-user-{i}" for i in range(count)]


def delivered(**filters: object) -> int:
    return Delivery.objects.filter(status=DeliveryStatus.DELIVERED, **filters).count()


def test_an_order_update_is_delivered_while_a_large_promotion_is_still_sending(simulator):
    simulator.reset()
    simulator.configure(latency_ms=40)
    shoppers = devices("promo", 3000)
    [buyer] = devices("buyer", 1)
    env = worker_environment(simulator)
    with celery_worker(env, "marketing", "marketing"), celery_worker(env, "transactional", "transactional"):
        submit(
            user_ids=shoppers,
            content=Content(title="Weekend deals", body="-20% on fruit", category="promotions"),
            source="api",
        )
        wait_for(lambda: delivered(notification__category="promotions") > 0, 30, "the promotion to start")
        submit(
            user_ids=[buyer],
            content=Content(title="Order 9 is delayed", body="New slot 15-16", category="order_updates"),
            source="api",
        )
        wait_for(lambda: delivered(notification__category="order_updates") == 1, 10, "the order update")
        order_update = Delivery.objects.get(notification__category="order_updates")
        promotions_done = delivered(notification__category="promotions")
        # It did not wait behind the promotion: most of the promotion was still to go.
        assert promotions_done < 2000, promotions_done
        latency = (order_update.delivered_at - order_update.notification.created_at).total_seconds()
        assert latency < 2.0
        wait_for(lambda: delivered(notification__category="promotions") == 3000, 120, "the promotion to finish")
    delivered_promotions = Delivery.objects.filter(status=DeliveryStatus.DELIVERED)
    assert order_update.delivered_at < delivered_promotions.aggregate(last=Max("updated_at"))["last"]


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice_outside_the_window(simulator, settings):
    """Killed with SIGKILL while sending; a new worker and the sweep finish the job.

    How we know nothing is lost: every delivery ends `delivered` and the simulator
    received every token. How we know nothing is sent twice: the simulator's count
    per token is 1, except for pushes it had accepted by the kill that were not yet
    recorded (the documented window: the killed worker's transaction rolled back).
    """
    simulator.reset()
    simulator.configure(latency_ms=30)
    settings.DELIVERY_STUCK_AFTER_SECONDS = 2
    users = devices("kill", 3000)
    env = worker_environment(simulator)
    with celery_worker(env, "marketing", "doomed") as doomed:
        submit(
            user_ids=users,
            content=Content(title="Fresh bread", body="Baked this morning", category="promotions"),
            source="api",
        )
        wait_for(lambda: delivered() >= 600, 60, "sending to be under way")
        doomed.kill()
    accepted = set(simulator.received("ok-kill-"))
    recorded = set(Delivery.objects.filter(status=DeliveryStatus.DELIVERED).values_list("device__token", flat=True))
    in_flight = accepted - recorded
    assert recorded <= accepted
    assert delivered() < 3000, "the worker finished before it could be killed"

    def rescued() -> bool:
        dispatch.sweep_stuck()  # what beat runs every 30 s
        dispatch.dispatch_due_retries()
        return delivered() >= 3000

    with celery_worker(env, "marketing", "rescuer"):
        wait_for(rescued, 120, "the sweep and a new worker to deliver all 3,000", interval=0.5)

    received = simulator.received("ok-kill-")
    assert len(received) == 3000  # nothing lost
    twice = {token for token, count in received.items() if count > 1}
    assert twice <= in_flight, twice - in_flight  # only the window
    assert max(received.values()) <= 2
    assert set(Notification.objects.values_list("status", flat=True)) == {"sending"}
