"""From the direct-send API to the provider and back into the delivery log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from devices.models import Device
from notifications import dispatch
from notifications.attempts import log_of
from notifications.models import (
    Delivery,
    DeliveryStatus,
    FailedDelivery,
    Notification,
    NotificationStatus,
    ProviderPause,
)
from notifications.outcomes import provider_reference
from notifications.records import apns_id

from .conftest import run_until_settled

pytestmark = pytest.mark.django_db(transaction=True)

ORDER_UPDATE = {
    "title": "Order 1042 is delayed",
    "body": "Now arriving 15:00-16:00",
    "category": "order_updates",
    "data": {"order_id": "1042"},
    "deep_link": "shop://orders/1042",
}


def send(service_client, **body):  # type: ignore[no-untyped-def]
    return service_client("notifications:write").post("/api/v1/notifications/", {**ORDER_UPDATE, **body}, format="json")


def test_a_notification_reaches_android_ios_and_web_devices(engine, shopper, service_client):
    android, ios, web = shopper("alice", "ok-android-alice", "ok-ios-alice", web="ok-web-alice")
    answer = send(service_client, user_id="alice")
    assert answer.status_code == 202, answer.content
    [notification_id] = answer.json()["notification_ids"]

    deliveries = {
        d.device.token: d for d in Delivery.objects.filter(notification_id=notification_id).select_related("device")
    }
    assert {d.status for d in deliveries.values()} == {DeliveryStatus.DELIVERED}
    assert set(deliveries) == {android, ios, web}
    # Only what the provider's own id adds is stored: FCM's id without our project, nothing for APNs (its apns-id is
    # the delivery's id, which we set).
    assert deliveries[android].provider_message_id.isdigit()
    assert provider_reference(deliveries[android]) == f"FCM message {deliveries[android].provider_message_id}"
    assert deliveries[ios].provider_message_id == ""
    assert provider_reference(deliveries[ios]) == f"apns-id {apns_id(deliveries[ios].pk).upper()}"
    # Delivered at the first try: no attempt row; the delivery is that attempt.
    assert all(d.attempts == 1 and not d.attempt_log.exists() for d in deliveries.values())
    assert all([(a.number, a.outcome) for a in log_of(d)] == [(1, "delivered")] for d in deliveries.values())
    [fcm] = engine.messages("ok-android-alice")
    assert fcm["payload"]["notification"]["title"] == "Order 1042 is delayed"
    assert fcm["payload"]["data"] == {
        "order_id": "1042",
        "deep_link": "shop://orders/1042",
        "category": "order_updates",
        "pushcart_notification_id": str(notification_id),  # for the app to report the open
    }
    [apns] = engine.messages("ok-ios-alice")
    assert apns["headers"]["apns-id"] == f"00000000-0000-0000-0000-{deliveries[ios].pk:012x}"
    assert len(engine.messages("ok-web-alice")) == 1
    assert Notification.objects.get().status == NotificationStatus.SENDING


def test_an_unregistered_token_is_deactivated_and_never_retried(engine, shopper, service_client):
    shopper("bob", "unregistered-bob")
    send(service_client, user_id="bob")
    run_until_settled()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error_code) == (
        DeliveryStatus.TOKEN_INVALID,
        1,
        "UNREGISTERED",
    )
    assert not Device.objects.get(token="unregistered-bob").is_active
    assert len(engine.messages("unregistered-bob")) == 1
    assert not FailedDelivery.objects.exists()


def test_503s_are_retried_with_backoff_until_delivered(engine, shopper, service_client):
    engine.configure(retry_after=60)  # a real provider's wait: the test moves the clock on instead of taking it
    shopper("carol", "flaky-3-carol")
    send(service_client, user_id="carol")
    assert dispatch.dispatch_due_retries() == 0  # not before the provider's Retry-After
    waits = run_until_settled()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 4)
    timeline = log_of(delivery)
    assert [(a.number, a.outcome, a.provider_code) for a in timeline] == [
        (1, "retry", "UNAVAILABLE"),
        (2, "retry", "UNAVAILABLE"),
        (3, "retry", "UNAVAILABLE"),
        (4, "delivered", ""),
    ]
    # Each retry was scheduled no sooner than the provider's Retry-After.
    assert len(waits) == 3 and min(waits) >= 60, waits


def test_an_always_failing_token_ends_in_a_failed_record_after_the_last_attempt(engine, shopper, service_client):
    engine.configure(retry_after=0)
    shopper("dan", "unavailable-dan")
    send(service_client, user_id="dan")
    run_until_settled()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 4)
    failure = FailedDelivery.objects.get()
    assert failure.reason.startswith("Gave up after 4 attempts")
    assert failure.payload["title"] == ORDER_UPDATE["title"]
    assert failure.payload["token"] == "unavailable-dan"
    assert len(engine.messages("unavailable-dan")) == 4


def test_a_permanent_error_fails_at_once(engine, shopper, service_client):
    shopper("erin", "invalid-erin")
    send(service_client, user_id="erin")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert FailedDelivery.objects.get().provider_code == "INVALID_ARGUMENT"


def test_refused_credentials_pause_the_provider_without_spending_attempts(
    engine, shopper, service_client, provider_settings, foreign_service_account
):
    provider_settings.FCM_CREDENTIALS_FILE = str(foreign_service_account)
    shopper("fay", "ok-fay")
    send(service_client, user_id="fay")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.RETRY_SCHEDULED, 0)
    pause = ProviderPause.objects.get(provider="fcm")
    assert "OAuth token refused" in pause.reason
    assert engine.messages("ok-fay") == []
    # While paused, a due retry is postponed to the end of the pause, not sent.
    Delivery.objects.update(next_attempt_at=pause.paused_at)
    dispatch.dispatch_due_retries()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.RETRY_SCHEDULED, pause.paused_until)


def test_a_user_without_devices_gets_a_notification_marked_no_device(engine, service_client):
    answer = send(service_client, user_ids=["ghost-1", "ghost-2"])
    assert answer.status_code == 202
    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.NO_DEVICE}
    assert not Delivery.objects.exists()


def test_a_repeated_idempotency_key_sends_nothing_twice(engine, shopper, service_client):
    shopper("hal", "ok-hal")
    client = service_client("notifications:write")
    body = {**ORDER_UPDATE, "user_id": "hal", "idempotency_key": "order-1042-delayed"}
    first = client.post("/api/v1/notifications/", body, format="json")
    again = client.post("/api/v1/notifications/", body, format="json")
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert Notification.objects.count() == 1
    assert len(engine.messages("ok-hal")) == 1


def test_send_at_in_the_future_waits_for_the_dispatcher(engine, shopper, service_client):
    shopper("ivy", "ok-ivy")
    # A TTL shorter than the wait: it counts from send_at, not from the API call.
    answer = send(
        service_client, user_id="ivy", ttl_seconds=1, send_at=(timezone.now() + timedelta(seconds=1)).isoformat()
    )
    assert answer.json()["status"] == "scheduled"
    assert dispatch.dispatch_scheduled_notifications() == 0
    assert engine.messages("ok-ivy") == []
    # The second passes without sleeping: the stored times move back by it, since the dispatcher and the TTL
    # check compare them with the clock. Both move, so a TTL counted from the API call would have run out.
    wait = timedelta(seconds=1.1)
    Notification.objects.update(send_at=F("send_at") - wait, created_at=F("created_at") - wait)
    assert dispatch.dispatch_scheduled_notifications() == 1
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED


def test_idempotency_keys_are_kept_for_the_retention_period_then_forgotten(engine, service_client):
    from notifications.models import IdempotentRequest
    from notifications.store import forget_old_idempotency_keys

    send(service_client, user_id="jo", idempotency_key="k-old")
    send(service_client, user_id="jo", idempotency_key="k-new")
    IdempotentRequest.objects.filter(key="k-old").update(created_at=timezone.now() - timedelta(days=8))
    assert forget_old_idempotency_keys() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["k-new"]


def test_a_retry_the_ledger_says_was_accepted_is_recorded_not_sent_again(engine, shopper, service_client):
    """A retry's outcomes are written after its pushes went out; if that write is lost (PostgreSQL failing over),
    the sweep sends the deliveries again. Those the ledger holds (notifications.ledger) are recorded delivered
    with the provider's message id instead, and the others of the same provider batch are sent."""
    from notifications import ledger

    shopper("dana", "flaky-1-dana-a", "flaky-1-dana-b")  # each refused once (503), then accepted
    send(service_client, user_id="dana")
    remembered, other = Delivery.objects.order_by("device__token")
    assert {remembered.status, other.status} == {DeliveryStatus.RETRY_SCHEDULED}
    ledger.write([((remembered.notification_id, remembered.device_id), "projects/p/messages/0:told-before")])

    run_until_settled()

    remembered.refresh_from_db()
    other.refresh_from_db()
    assert (remembered.status, remembered.provider_message_id) == (DeliveryStatus.DELIVERED, "0:told-before")
    assert other.status == DeliveryStatus.DELIVERED
    # What the simulator was asked (its refusals too): the remembered one only its first, refused, time.
    assert engine.received("flaky-1-dana-") == {"flaky-1-dana-a": 1, "flaky-1-dana-b": 2}
