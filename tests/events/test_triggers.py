"""Events become notifications by the shipped rules (tasks run eagerly at commit; real PostgreSQL, Redis, simulator).

tests/events/test_end_to_end.py runs the same through real worker processes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from devices.services import register_device
from events import recovery, triggers
from events.models import Event, EventStatus, TriggerRule
from notifications import dispatch
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus

pytestmark = pytest.mark.django_db(transaction=True)

T0 = timezone.now().replace(microsecond=0) - timedelta(minutes=1)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def order(user: str, key: str, status: str, **data: object) -> dict:
    return {
        "type": "order_status_changed",
        "user_id": user,
        "idempotency_key": key,
        "data": {"order_id": "1042", "status": status, **data},
    }


def cart(user: str, key: str, cart_id: str, seconds: float, items: int = 1) -> dict:
    return {
        "type": "cart_updated",
        "user_id": user,
        "idempotency_key": key,
        "occurred_at": at(seconds),
        "data": {"cart_id": cart_id, "item_count": items, "first_item": "Oat milk"},
    }


def checkout(user: str, key: str, cart_id: str, seconds: float) -> dict:
    return {
        "type": "checkout_completed",
        "user_id": user,
        "idempotency_key": key,
        "occurred_at": at(seconds),
        "data": {"cart_id": cart_id},
    }


def test_an_order_cancellation_reaches_each_device_in_its_language(engine, post_events):
    register_device(user_id="jonas", platform="android", token="ok-jonas-de", locale="de-DE")
    register_device(user_id="jonas", platform="ios", token="ok-ios-jonas-fr", locale="fr-FR")
    register_device(user_id="jonas", platform="android", token="ok-jonas-sv", locale="sv-SE")

    answer = post_events(order("jonas", "o1", "cancelled", reason="payment declined"))
    assert answer.status_code == 202

    event = Event.objects.get()
    assert event.status == EventStatus.PROCESSED
    notification = Notification.objects.get()
    assert (notification.content.template_key, notification.category, notification.source_ref) == (
        "order_cancelled",
        "order_updates",
        str(event.pk),
    )
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    [german] = engine.messages("ok-jonas-de")
    assert german["payload"]["notification"]["title"] == "Bestellung 1042 wurde storniert"
    assert german["payload"]["data"]["deep_link"] == "shop://orders/1042"
    [french] = engine.messages("ok-ios-jonas-fr")
    assert french["payload"]["aps"]["alert"]["title"] == "La commande 1042 a été annulée"
    [swedish] = engine.messages("ok-jonas-sv")  # no Swedish translation: the default language
    assert swedish["payload"]["notification"]["title"] == "Order 1042 was cancelled"
    assert swedish["payload"]["notification"]["body"].startswith("Payment declined.")


def test_a_condition_that_does_not_hold_and_an_unknown_type_match_no_rule(engine, post_events):
    register_device(user_id="ana", platform="android", token="ok-ana")
    post_events(
        [
            order("ana", "o1", "shipped"),
            {"type": "loyalty_points_added", "user_id": "ana", "idempotency_key": "l1", "data": {"points": 5}},
        ]
    )
    assert set(Event.objects.values_list("status", flat=True)) == {EventStatus.NO_RULE}
    assert Event.objects.get(type="loyalty_points_added").outcome == "No active rule matches this event."
    assert not Notification.objects.exists()


def test_a_template_lacking_data_at_send_time_makes_a_failed_notification_with_the_reason(engine, post_events):
    register_device(user_id="ana", platform="android", token="ok-ana")
    post_events(order("ana", "o1", "delayed"))  # the delayed template needs new_eta
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.FAILED
    assert "new_eta" in notification.status_reason and "order_delayed" in notification.status_reason
    assert not Delivery.objects.exists()
    assert engine.messages("ok-ana") == []
    assert "failed" in Event.objects.get().outcome


def test_a_duplicate_event_is_not_processed_twice(engine, post_events):
    register_device(user_id="ana", platform="android", token="ok-ana")
    first = post_events(order("ana", "o1", "delayed", new_eta="15:00"))
    second = post_events(order("ana", "o1", "delayed", new_eta="15:00"))
    assert second.json()["events"][0] == {**first.json()["events"][0], "duplicate": True}
    triggers.process_events([first.json()["events"][0]["id"]])  # a redelivered task: nothing to do
    assert Notification.objects.count() == 1
    assert len(engine.messages("ok-ana")) == 1


def test_a_task_drains_a_backlog_of_waiting_events_in_one_batch(engine, settings):
    """Under a burst, the first task takes other waiting events too; the tasks queued for them find nothing left."""
    settings.EVENT_PROCESS_BATCH = 4
    stored = []
    for n in range(6):
        register_device(user_id=f"shopper-{n}", platform="android", token=f"ok-backlog-{n}")
        stored.append(
            Event.objects.create(
                producer="test",
                idempotency_key=f"b{n}",
                type="order_status_changed",
                user_id=f"shopper-{n}",
                occurred_at=T0,
                data={"order_id": str(2000 + n), "status": "cancelled"},
            )
        )
    own = stored[-1]  # the newest event's task runs first: it also takes the three oldest waiting
    assert triggers.process_events([own.pk]) == {"processed": 4}
    processed = set(Event.objects.filter(status=EventStatus.PROCESSED).values_list("pk", flat=True))
    assert processed == {own.pk, stored[0].pk, stored[1].pk, stored[2].pk}
    assert [len(engine.messages(f"ok-backlog-{n}")) for n in range(6)] == [1, 1, 1, 0, 0, 1]
    assert triggers.process_events([stored[0].pk]) == {"processed": 2}  # a queued task: the two still waiting
    assert triggers.process_events([stored[3].pk]) == {}  # nothing left
    assert [len(engine.messages(f"ok-backlog-{n}")) for n in range(6)] == [1] * 6


def waiting(user: str) -> list[Notification]:
    return list(Notification.objects.filter(user_id=user, status=NotificationStatus.SCHEDULED))


def test_an_abandoned_cart_reminder_waits_for_its_delay(engine, post_events):
    post_events(cart("bo", "c1", "77", seconds=0, items=3))
    [reminder] = waiting("bo")
    assert reminder.send_at == T0 + timedelta(minutes=30)
    assert reminder.content.template_key == "abandoned_cart"
    assert reminder.content.body == "Oat milk and 2 more are waiting in your cart."
    assert reminder.trigger_key.endswith("cart_id=77")


def test_checkout_cancels_the_waiting_reminder(engine, post_events):
    post_events(cart("bo", "c1", "77", seconds=0))
    post_events(checkout("bo", "x1", "77", seconds=60))
    assert waiting("bo") == []
    reminder = Notification.objects.get()
    assert reminder.status == NotificationStatus.CANCELLED
    assert reminder.status_reason.startswith("Cancelled by checkout_completed")


def test_a_checkout_for_another_cart_or_user_cancels_nothing(engine, post_events):
    post_events(cart("bo", "c1", "77", seconds=0))
    post_events([checkout("bo", "x1", "78", seconds=60), checkout("someone-else", "x2", "77", seconds=60)])
    assert len(waiting("bo")) == 1


def test_repeated_cart_updates_leave_one_reminder_timed_from_the_last(engine, post_events):
    for n in range(4):
        post_events(cart("bo", f"c{n}", "77", seconds=10 * n, items=n + 1))
    [reminder] = waiting("bo")
    assert reminder.send_at == T0 + timedelta(seconds=30, minutes=30)
    assert reminder.content.body == "Oat milk and 3 more are waiting in your cart."
    replaced = Notification.objects.filter(status=NotificationStatus.CANCELLED)
    assert replaced.count() == 3
    assert all(n.status_reason.startswith("Replaced by a newer cart_updated") for n in replaced)


def test_events_arriving_out_of_order_still_end_right(engine, post_events):
    # The checkout (t=60) is processed before the cart update it followed (t=0): no reminder.
    post_events(checkout("bo", "x1", "77", seconds=60))
    post_events(cart("bo", "c1", "77", seconds=0))
    assert waiting("bo") == []
    assert "a later event" in Event.objects.get(idempotency_key="c1").outcome
    # An older cart update arriving after a newer one leaves the newer one's reminder alone.
    post_events(cart("cy", "c2", "90", seconds=20, items=2))
    post_events(cart("cy", "c3", "90", seconds=10, items=1))
    [reminder] = waiting("cy")
    assert reminder.send_at == T0 + timedelta(seconds=20, minutes=30)


def test_a_waiting_rule_needs_its_match_key(engine, post_events):
    post_events({"type": "cart_updated", "user_id": "bo", "idempotency_key": "c1", "data": {"item_count": 1}})
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.FAILED
    assert "needs 'cart_id'" in notification.status_reason


def test_a_due_reminder_is_sent_by_the_dispatcher(engine, post_events):
    register_device(user_id="bo", platform="android", token="ok-bo")
    update = cart("bo", "c1", "77", seconds=0)
    del update["occurred_at"]  # now
    post_events(update)
    assert dispatch.dispatch_scheduled_notifications() == 0
    assert engine.messages("ok-bo") == []
    # The rule's 30 minutes pass without sleeping: the reminder's stored times move back by them.
    delay = TriggerRule.objects.get(name="Abandoned cart").delay
    Notification.objects.update(send_at=F("send_at") - delay, created_at=F("created_at") - delay)
    assert dispatch.dispatch_scheduled_notifications() == 1
    [push] = engine.messages("ok-bo")
    assert push["payload"]["notification"]["title"] == "Still thinking it over?"
    assert push["payload"]["data"]["cart_id"] == "77"


def test_inactive_rules_are_ignored(engine, post_events):
    TriggerRule.objects.update(is_active=False)
    post_events(order("ana", "o1", "cancelled"))
    assert Event.objects.get().status == EventStatus.NO_RULE


def test_events_whose_task_was_lost_are_requeued_and_processed(engine, clean_redis):
    register_device(user_id="ana", platform="android", token="ok-ana")
    # Stored, but the broker lost the task (e.g. Redis restarted without persistence).
    lost = Event.objects.create(
        producer="key:x",
        idempotency_key="o1",
        type="order_status_changed",
        user_id="ana",
        occurred_at=timezone.now(),
        data={"order_id": "7", "status": "cancelled"},
    )
    clean_redis.flushdb()
    assert recovery.requeue_unprocessed(older_than_seconds=3600) == 0  # too recent to be called lost
    assert recovery.requeue_unprocessed(older_than_seconds=0) == 1
    lost.refresh_from_db()
    assert lost.status == EventStatus.PROCESSED
    [push] = engine.messages("ok-ana")
    assert push["payload"]["notification"]["title"] == "Order 7 was cancelled"
