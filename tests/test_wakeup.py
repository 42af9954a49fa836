"""A stream of single requests shares worker tasks (config.wakeup), and no request's work waits for a task that
already looked: real requests, the real broker queue, then a real worker."""

from __future__ import annotations

import pytest
from django.conf import settings

from bench.processes import celery_worker, worker_environment
from config.celery import waiting_messages
from devices.services import register_device
from events.models import Event, EventStatus
from notifications.models import Delivery, DeliveryStatus, Notification
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def order_cancelled(n: int) -> dict:
    return {
        "type": "order_status_changed",
        "user_id": f"wake-{n}",
        "idempotency_key": f"wake-{n}",
        "data": {"order_id": str(n), "status": "cancelled"},
    }


def test_single_events_and_sends_share_one_task_each_and_all_are_pushed(simulator, service_client):
    simulator.reset()
    for n in range(30):
        register_device(user_id=f"wake-{n}", platform="android", token=f"ok-wake-{n}")
    client = service_client("events:write", "notifications:write")
    queued_before = waiting_messages(settings.QUEUE_TRANSACTIONAL)
    for n in range(20):  # no worker yet: the first request's task waits in the queue
        assert client.post("/api/v1/events/", order_cancelled(n), format="json").status_code == 202
    for n in range(20, 30):
        send = {"user_id": f"wake-{n}", "category": "order_updates", "title": "Order update", "body": "On its way"}
        assert client.post("/api/v1/notifications/", send, format="json").status_code == 202
    # One task for the 20 events and one for the 10 sends, instead of one per request.
    assert waiting_messages(settings.QUEUE_TRANSACTIONAL) - queued_before == 2

    with celery_worker(worker_environment(simulator), "transactional", "wakeup"):
        wait_for(
            lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 30,
            30,
            "a push to each of the 30 devices",
        )
    assert not Event.objects.filter(status=EventStatus.RECEIVED).exists()
    assert Notification.objects.count() == 30
    assert sorted(simulator.received("ok-wake-").values()) == [1] * 30


def test_work_stored_after_a_task_started_queues_another():
    from config import wakeup
    from events import ingest

    queued_before = waiting_messages(settings.QUEUE_EVENTS)
    assert wakeup.wake(ingest.WAKE, ingest.PROCESS_EVENTS, args=[[]], queue=settings.QUEUE_EVENTS)
    assert not wakeup.wake(ingest.WAKE, ingest.PROCESS_EVENTS, args=[[]], queue=settings.QUEUE_EVENTS)
    wakeup.started(ingest.WAKE)  # the queued task began: it may already have looked for waiting events
    assert wakeup.wake(ingest.WAKE, ingest.PROCESS_EVENTS, args=[[]], queue=settings.QUEUE_EVENTS)
    assert waiting_messages(settings.QUEUE_EVENTS) - queued_before == 2
