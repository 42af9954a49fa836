"""Every send path passes shopper protection before deliveries are made (tasks eager; real PostgreSQL,
Redis and simulator). Each push held back says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

import pytest
from django.db.models import F
from django.utils import timezone

from devices.services import register_device
from notifications import dispatch
from notifications.delivery import send_deliveries
from notifications.engine import Content, submit
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus
from notifications.records import NewNotification, Pending
from preferences.models import FrequencyCap
from preferences.services import QuietHoursChange, update_preferences
from protection import policy
from protection.outcomes import PolicyOutcome
from tests.rows import notification_row

pytestmark = pytest.mark.django_db(transaction=True)

PROMOTION = Content(title="Weekend deals", body="-20% on fruit", category="promotions", priority="normal")
ORDER = Content(title="Order 7 is delayed", body="Now 15:00-16:00", category="order_updates")


def send(user: str, content: Content = PROMOTION) -> Notification:
    [pk] = submit(user_ids=[user], content=content, source="api").notification_ids
    return Notification.objects.get(pk=pk)


def fresh(notification: Notification) -> Notification:
    notification.refresh_from_db()
    return notification


def test_an_opted_out_category_is_suppressed_and_a_mandatory_one_still_sent(engine):
    register_device(user_id="ana", platform="android", token="ok-ana")
    update_preferences("ana", categories={"promotions": False})
    promotion, order = send("ana"), send("ana", ORDER)
    assert (fresh(promotion).status, promotion.policy) == (NotificationStatus.SUPPRESSED, PolicyOutcome.OPTED_OUT)
    assert promotion.status_reason == "The shopper switched off 'promotions' notifications."
    assert fresh(order).status == NotificationStatus.SENDING
    assert [m["payload"]["notification"]["title"] for m in engine.messages("ok-ana")] == ["Order 7 is delayed"]


def test_marketing_pushes_stop_at_the_cap_and_transactional_ones_do_not_count(engine):
    register_device(user_id="ana", platform="android", token="ok-ana")
    promotions = [send("ana") for _ in range(3)]
    orders = [send("ana", ORDER) for _ in range(3)]
    assert [fresh(n).status for n in promotions] == [NotificationStatus.SENDING] * 2 + [NotificationStatus.SUPPRESSED]
    assert promotions[2].policy == PolicyOutcome.CAPPED
    assert promotions[2].status_reason == "Frequency cap reached: 2 marketing push(es) per day."
    assert all(fresh(n).status == NotificationStatus.SENDING for n in orders)
    assert len(engine.messages("ok-ana")) == 5


def test_the_admins_caps_and_a_sends_own_stricter_cap_both_hold(engine):
    register_device(user_id="ana", platform="android", token="ok-ana")
    FrequencyCap.objects.filter(window=timedelta(days=1)).update(max_pushes=5)
    strict = Content(title="Flash sale", body="1 h only", category="promotions", frequency_caps=((3600, 1),))
    first, second = send("ana", strict), send("ana", strict)
    assert fresh(first).status == NotificationStatus.SENDING
    assert fresh(second).status_reason == "Frequency cap reached: 1 marketing push(es) per hour."
    FrequencyCap.objects.update(is_active=False)  # no cap at all: marketing flows freely
    assert all(fresh(send("ana")).status == NotificationStatus.SENDING for _ in range(4))


def test_the_same_push_within_its_window_is_sent_once(engine, post_restock):
    register_device(user_id="ana", platform="android", token="ok-ana")
    post_restock("r1", "sku-1", "Sourdough loaf")
    post_restock("r2", "sku-1", "Sourdough loaf")  # a second restock event within the hour
    post_restock("r3", "sku-2", "Rye bread")
    statuses = list(Notification.objects.order_by("pk").values_list("status", "policy", "status_reason"))
    assert statuses[0][:2] == (NotificationStatus.SENDING, "")
    assert statuses[1][:2] == (NotificationStatus.SUPPRESSED, PolicyOutcome.DUPLICATE)
    assert statuses[1][2].startswith("The same push (#") and statuses[1][2].endswith("less than hour ago.")
    assert statuses[2][:2] == (NotificationStatus.SENDING, "")
    titles = [m["payload"]["notification"]["title"] for m in engine.messages("ok-ana")]
    assert titles == ["Sourdough loaf is back in stock", "Rye bread is back in stock"]


@pytest.fixture
def post_restock(service_client):  # type: ignore[no-untyped-def]
    client = service_client("events:write")

    def post(key: str, product_id: str, name: str) -> None:
        event = {
            "type": "product_restocked",
            "user_id": "ana",
            "idempotency_key": key,
            "data": {"product_id": product_id, "product_name": name},
        }
        assert client.post("/api/v1/events/", event, format="json").status_code == 202

    return post


def quiet_now(user: str, zone: str, *, ends_in: timedelta) -> datetime:
    """Quiet hours for `user` that started an hour ago and end `ends_in` from now, in `zone`; returns the end."""
    now = datetime.now(ZoneInfo(zone)).replace(microsecond=0)
    end = now + ends_in
    update_preferences(
        user,
        quiet_hours=QuietHoursChange(enabled=True, start=(now - timedelta(hours=1)).time(), end=end.time()),
    )
    return end


def test_a_marketing_push_in_quiet_hours_waits_for_their_end_and_an_order_update_does_not(engine):
    register_device(user_id="ana", platform="android", token="ok-ana", timezone="Asia/Tokyo")
    end = quiet_now("ana", "Asia/Tokyo", ends_in=timedelta(hours=1))
    promotion, order = send("ana"), send("ana", ORDER)
    fresh(promotion)
    assert (promotion.status, promotion.policy) == (NotificationStatus.SCHEDULED, PolicyOutcome.QUIET_HOURS)
    assert promotion.send_at == end.astimezone(UTC)
    assert promotion.status_reason.startswith("Deferred by quiet hours (") and "Asia/Tokyo" in promotion.status_reason
    assert promotion.ttl_seconds < 24 * 3600  # its TTL still counts from when it was first due
    assert fresh(order).status == NotificationStatus.SENDING
    assert len(engine.messages("ok-ana")) == 1
    assert dispatch.dispatch_scheduled_notifications() == 0  # still quiet
    # The hour passes without sleeping: the push's stored times move back by it, and the shopper's quiet
    # hours (wall-clock times in Tokyo) now end at this moment.
    hour = timedelta(hours=1)
    Notification.objects.filter(pk=promotion.pk).update(send_at=F("send_at") - hour, created_at=F("created_at") - hour)
    quiet_now("ana", "Asia/Tokyo", ends_in=timedelta(0))
    assert dispatch.dispatch_scheduled_notifications() == 1
    assert fresh(promotion).status == NotificationStatus.SENDING
    assert len(engine.messages("ok-ana")) == 2


def test_quiet_hours_follow_the_preferences_time_zone_before_the_devices(engine):
    register_device(user_id="ana", platform="android", token="ok-ana", timezone="America/New_York")
    quiet_now("ana", "Asia/Tokyo", ends_in=timedelta(hours=1))
    update_preferences("ana", timezone_name="Asia/Tokyo")
    assert fresh(send("ana")).policy == PolicyOutcome.QUIET_HOURS


def test_a_push_whose_ttl_ends_before_the_quiet_hours_is_suppressed(engine):
    register_device(user_id="ana", platform="android", token="ok-ana", timezone="Europe/Paris")
    quiet_now("ana", "Europe/Paris", ends_in=timedelta(hours=2))
    short = Content(title="Lunch deal", body="Until 14:00", category="promotions", ttl_seconds=3600)
    notification = fresh(send("ana", short))
    assert (notification.status, notification.policy) == (
        NotificationStatus.SUPPRESSED,
        PolicyOutcome.QUIET_HOURS_EXPIRED,
    )
    assert engine.messages("ok-ana") == []


def test_deferral_across_a_daylight_saving_change_ends_at_local_morning(engine):
    register_device(user_id="ana", platform="android", token="ok-ana", timezone="Europe/Berlin")
    from devices.token_cache import tokens_for_users

    saturday_night = datetime(2026, 10, 24, 20, 30, tzinfo=UTC)  # 22:30 CEST; clocks go back at 03:00
    said = Content(title="t", body="b", category="promotions")
    notification = Pending(1, NewNotification("ana", said, "api"), created_at=saturday_night)  # as the engine reads it
    update_preferences("ana", quiet_hours=QuietHoursChange(enabled=True, start=dt_time(21, 0), end=dt_time(8, 0)))
    verdict = policy.judge([notification], tokens_for_users(["ana"]), now=saturday_night)[notification.pk]
    assert verdict.action == policy.Action.DEFER
    assert verdict.send_at == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)  # 08:00 CET
    assert verdict.ttl_seconds == 24 * 3600 - int((verdict.send_at - saturday_night).total_seconds())


def test_opting_out_withdraws_marketing_deliveries_already_queued(settings, provider_settings, sim):
    register_device(user_id="ana", platform="android", token="ok-ana")
    # No worker runs, and FCM is paused: the deliveries are made and wait for their retry.
    from notifications.delivery import process_notifications
    from notifications.models import ProviderPause
    from notifications.writes import resume_providers

    ProviderPause.objects.create(provider="fcm", paused_until=timezone.now() + timedelta(hours=1), reason="test")
    promotion, order = send("ana"), send("ana", ORDER)
    process_notifications([promotion.pk, order.pk])
    waiting = list(Delivery.objects.filter(notification__in=[promotion, order]).values_list("pk", flat=True))
    later = send("ana")  # still pending: not even turned into deliveries yet
    _, withdrawn = update_preferences("ana", categories={"promotions": False})
    assert (withdrawn.deliveries, withdrawn.notifications) == (1, 1)
    assert fresh(later).status == NotificationStatus.SUPPRESSED and later.policy == PolicyOutcome.OPTED_OUT
    cancelled = Delivery.objects.get(notification=promotion)
    assert (cancelled.status, cancelled.last_error_code) == (DeliveryStatus.CANCELLED, "opted_out")
    resume_providers(["fcm"])
    send_deliveries(waiting)  # the queued task runs after all
    assert [m["payload"]["notification"]["title"] for m in sim.messages("ok-ana")] == ["Order 7 is delayed"]


def test_no_active_device_is_recorded_as_such(engine):
    assert fresh(send("nobody")).status == NotificationStatus.NO_DEVICE


def test_a_deferred_reminder_yields_to_a_newer_waiting_one_for_the_same_cart(engine):
    register_device(user_id="ana", platform="android", token="ok-ana", timezone="Asia/Tokyo")
    quiet_now("ana", "Asia/Tokyo", ends_in=timedelta(hours=1))
    reminder = {"title": "Still thinking?", "body": "b", "category": "cart_reminders", "source": "event"}
    due = notification_row(
        **reminder, status=NotificationStatus.PENDING, trigger_key="rule-1:cart_id=77", user_id="ana"
    )
    newer = notification_row(
        **reminder,
        status=NotificationStatus.SCHEDULED,
        trigger_key="rule-1:cart_id=77",
        user_id="ana",
        send_at=timezone.now() + timedelta(minutes=30),
    )
    from notifications.delivery import process_notifications

    assert process_notifications([due.pk]) == {}
    assert (fresh(due).status, due.status_reason) == (
        NotificationStatus.CANCELLED,
        f"Replaced by the newer waiting send #{newer.pk}.",
    )
    assert fresh(newer).status == NotificationStatus.SCHEDULED
