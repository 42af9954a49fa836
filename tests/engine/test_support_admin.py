"""What Support expects of the admin (issue 18): a shopper timeline that answers "why", list rows that say what
happened, failed deliveries resolved only by Administrators after a confirmation, the admin's own 403 page.

The history is built through the real paths (device registration, the events API, the rules, shopper protection,
the delivery engine against the provider simulator), tasks running eagerly at commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import RequestFactory

from accounts import roles
from config.error_pages import permission_denied
from devices.services import register_device
from events.models import Event, EventStatus
from notifications.engine import Content, submit
from notifications.models import (
    Delivery,
    DeliveryStatus,
    FailedDelivery,
    FailedDeliveryStatus,
    Notification,
    NotificationStatus,
)
from preferences.services import QuietHoursChange, update_preferences
from protection.outcomes import PolicyOutcome
from tests.rows import notification_row
from tests.staff import staff

pytestmark = pytest.mark.django_db(transaction=True)

SHOPPER_PAGE = "/admin/shopper/"


def order_event(key: str, status: str) -> dict:
    return {
        "type": "order_status_changed",
        "user_id": "sara",
        "idempotency_key": key,
        "data": {"order_id": "1042", "status": status, "reason": "payment declined"},
    }


def build_history(service_client) -> dict[str, Notification]:  # type: ignore[no-untyped-def]
    """Sara: two events no rule matched, an order cancellation delivered to her German Android phone whose old iPhone
    token is unregistered, a promotion deferred by her quiet hours. Tom: a notice that failed on both his devices.
    Lea: a notice whose devices were both removed."""
    register_device(user_id="sara", platform="android", token="ok-sara-pixel", locale="de-DE", timezone="Europe/Berlin")
    register_device(user_id="sara", platform="ios", token="unregistered-ios-sara", locale="en-GB")
    events = service_client("events:write")
    for body in (
        order_event("o-shipped", "shipped"),
        {"type": "loyalty_points_added", "user_id": "sara", "idempotency_key": "l1", "data": {"points": 5}},
        order_event("o-cancelled", "cancelled"),
    ):
        assert events.post("/api/v1/events/", body, format="json").status_code == 202

    berlin = datetime.now(ZoneInfo("Europe/Berlin"))
    update_preferences(
        "sara",
        quiet_hours=QuietHoursChange(
            enabled=True, start=(berlin - timedelta(hours=1)).time(), end=(berlin + timedelta(hours=2)).time()
        ),
    )
    promotion = Content(title="Weekend deals", body="Fresh and cheaper.", category="promotions")
    submit(user_ids=["sara"], content=promotion, source="api")

    notice = Content(title="Your order is late", body="Sorry.", category="order_updates")
    for user, tokens in (
        ("tom", ["invalid-tom-1", "invalid-tom-2"]),
        ("lea", ["unregistered-lea-1", "unregistered-lea-2"]),
    ):
        for token in tokens:
            register_device(user_id=user, platform="android", token=token)
        submit(user_ids=[user], content=notice, source="api")
    return {
        "cancelled": Notification.objects.get(user_id="sara", content__template_key="order_cancelled"),
        "deferred": Notification.objects.get(user_id="sara", category="promotions"),
        "failed": Notification.objects.get(user_id="tom"),
        "removed": Notification.objects.get(user_id="lea"),
    }


@pytest.fixture
def history(engine, service_client) -> dict[str, Notification]:  # type: ignore[no-untyped-def]
    return build_history(service_client)


def test_the_history_is_what_the_engine_made_of_it(history):
    # What the page is then asked to explain, as the engine stored it.
    assert set(Event.objects.filter(user_id="sara").values_list("type", "status")) == {
        ("order_status_changed", EventStatus.NO_RULE),
        ("loyalty_points_added", EventStatus.NO_RULE),
        ("order_status_changed", EventStatus.PROCESSED),
    }
    assert dict(history["cancelled"].deliveries.values_list("device__token", "status")) == {
        "ok-sara-pixel": DeliveryStatus.DELIVERED,
        "unregistered-ios-sara": DeliveryStatus.TOKEN_INVALID,
    }
    assert (history["deferred"].status, history["deferred"].policy) == (
        NotificationStatus.SCHEDULED,
        PolicyOutcome.QUIET_HOURS,
    )
    assert set(history["failed"].deliveries.values_list("status", flat=True)) == {DeliveryStatus.FAILED}
    assert set(history["removed"].deliveries.values_list("status", flat=True)) == {DeliveryStatus.TOKEN_INVALID}


def test_the_shopper_timeline_says_what_happened_to_each_event_and_device(client, history):
    client.force_login(staff(roles.SUPPORT))
    html = client.get(SHOPPER_PAGE, {"user_id": "sara"}).content.decode()
    timeline = html[html.index('id="shopper-timeline"') :]

    shipped = Event.objects.get(idempotency_key="o-shipped")
    assert f"/admin/events/event/{shipped.pk}/change/" in timeline
    assert (
        "By the rules active now: &#x27;Order cancelled&#x27; needs status = cancelled "
        "(this event&#x27;s status: shipped); &#x27;Order delayed&#x27; needs status = delayed" in timeline
    )
    assert "No active rule handles &#x27;loyalty_points_added&#x27; events." in timeline
    assert timeline.count("Matched no rule") == 2

    cancelled = history["cancelled"]
    german, gone = (cancelled.deliveries.get(device__token=t) for t in ("ok-sara-pixel", "unregistered-ios-sara"))
    assert f"/admin/notifications/notification/{cancelled.pk}/change/" in timeline
    assert f"/admin/notifications/delivery/{german.pk}/change/" in timeline
    assert "delivered to Android ok-sara-pixel in German" in timeline
    assert "token unregistered: device removed (iOS unregistered-ios…)" in timeline
    assert "Partly delivered" in timeline
    assert f"/admin/devices/device/{gone.device_id}/change/" in timeline  # its removal, an entry of its own
    assert "Unregistered by the push provider." in timeline

    deferred = history["deferred"]
    assert f"/admin/notifications/notification/{deferred.pk}/change/" in timeline
    assert "Deferred by quiet hours (" in timeline and "local time." in timeline
    # Newest first: the deferred promotion came after the cancellation, which came after the shipped event.
    assert timeline.index(f"notification/{deferred.pk}/") < timeline.index(f"notification/{cancelled.pk}/")
    assert timeline.index(f"notification/{cancelled.pk}/") < timeline.index(f"event/{shipped.pk}/")


def test_the_timeline_reads_a_fixed_number_of_queries_however_long_the_history(
    client, history, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(staff(roles.SUPPORT))
    with CaptureQueriesContext(connection) as first:
        assert client.get(SHOPPER_PAGE, {"user_id": "sara"}).status_code == 200
    device = Delivery.objects.filter(notification__user_id="sara").first().device
    for i in range(30):  # more notifications, each with a delivery, and more events
        notification = notification_row(
            user_id="sara", title=f"Deal {i}", body="b", category="promotions", source="api", status="sending"
        )
        Delivery.objects.create(notification=notification, device=device, provider="fcm", status="delivered")
        Event.objects.create(
            producer="test", idempotency_key=f"e{i}", type="cart_updated", user_id="sara", occurred_at=device.created_at
        )
    with django_assert_max_num_queries(len(first.captured_queries)):
        html = client.get(SHOPPER_PAGE, {"user_id": "sara"}).content.decode()
    assert html.count("delivered to Android ok-sara-pixel") == 31


def test_a_list_row_of_a_notification_no_device_got_says_what_happened(client, history):
    client.force_login(staff(roles.SUPPORT))
    html = client.get("/admin/notifications/notification/").content.decode()
    assert "Not delivered: both devices removed (token unregistered)." in html
    assert "Failed on both devices: " in html
    assert html.count("Not delivered") >= 2  # the status column of both rows
    # On Tom's shopper page, each device's line links to its failed record.
    toms = client.get(SHOPPER_PAGE, {"user_id": "tom"}).content.decode()
    for failure in FailedDelivery.objects.filter(delivery__notification=history["failed"]):
        assert f"/admin/notifications/faileddelivery/{failure.pk}/change/" in toms
    assert toms.count("failed on Android invalid-tom-") == 2


def test_support_reads_a_failed_delivery_but_can_neither_requeue_nor_discard_it(client, history):
    failure = FailedDelivery.objects.filter(delivery__notification__user_id="tom").first()
    client.force_login(staff(roles.SUPPORT))
    page = client.get(f"/admin/notifications/faileddelivery/{failure.pk}/change/").content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "Requeue" not in page and "Discard" not in page
    assert "Only an Administrator can requeue or discard a failed delivery." in page
    for action in ("requeue", "discard"):
        url = f"/admin/notifications/faileddelivery/{failure.pk}/{action}/"
        refused = client.get(url)
        assert refused.status_code == 403
        assert client.post(url).status_code == 403
    refused_page = refused.content.decode()
    assert "You don't have permission to discard a failed delivery." in refused_page
    failure.refresh_from_db()
    assert failure.status == FailedDeliveryStatus.OPEN


def test_administrators_requeue_and_discard_after_a_confirmation(client, history):
    first, second = FailedDelivery.objects.filter(delivery__notification__user_id="tom").order_by("pk")
    admin = staff(roles.ADMINISTRATORS)
    client.force_login(admin)
    page = client.get(f"/admin/notifications/faileddelivery/{first.pk}/change/").content.decode()
    assert 'name="_save"' not in page  # read, not edited
    assert f"/admin/notifications/faileddelivery/{first.pk}/requeue/" in page
    assert f"/admin/notifications/faileddelivery/{first.pk}/discard/" in page

    confirm = client.get(f"/admin/notifications/faileddelivery/{first.pk}/requeue/").content.decode()
    assert "What will happen:" in confirm and "as attempt\n      2." in confirm
    first.refresh_from_db()
    assert first.status == FailedDeliveryStatus.OPEN  # asking changes nothing
    done = client.post(f"/admin/notifications/faileddelivery/{first.pk}/requeue/", follow=True)
    assert "requeued: it is being sent once more" in done.content.decode()
    delivery = Delivery.objects.get(pk=first.delivery_id)
    # The simulator still refuses the token: a second attempt, failed again, and a new open record of it.
    assert (delivery.attempts, delivery.status) == (2, DeliveryStatus.FAILED)

    client.get(f"/admin/notifications/faileddelivery/{second.pk}/discard/")
    client.post(f"/admin/notifications/faileddelivery/{second.pk}/discard/")
    second.refresh_from_db()
    assert (second.status, second.resolved_by) == (FailedDeliveryStatus.DISCARDED, admin.username)
    again = client.post(f"/admin/notifications/faileddelivery/{second.pk}/discard/", follow=True)
    assert "Nothing done: this failed delivery was already discarded." in again.content.decode()
    closed = client.get(f"/admin/notifications/faileddelivery/{second.pk}/change/").content.decode()
    assert f"Discarded by {admin.username}" in closed and "discard/" not in closed


def test_a_failed_record_outlives_its_delivery_and_says_so(client, history):
    """Records are kept 90 days, deliveries 30: past that, the record still reads, and can't be requeued."""
    failure = FailedDelivery.objects.filter(delivery__notification__user_id="tom").first()
    with connection.cursor() as cursor:  # as its day's partition goes: no cascade to the record
        cursor.execute("DELETE FROM notifications_delivery WHERE id = %s", [failure.delivery_id])
    client.force_login(staff(roles.ADMINISTRATORS))
    listed = client.get("/admin/notifications/faileddelivery/")
    assert listed.status_code == 200 and f"/admin/notifications/faileddelivery/{failure.pk}/change/" in (
        listed.content.decode()
    )
    page = client.get(f"/admin/notifications/faileddelivery/{failure.pk}/change/").content.decode()
    assert "Its delivery is no longer kept (deliveries are kept 30 days)" in page
    assert "requeue/" not in page
    refused = client.post(f"/admin/notifications/faileddelivery/{failure.pk}/requeue/", follow=True)
    assert "it can&#x27;t be requeued" in refused.content.decode()
    failure.refresh_from_db()
    assert failure.status == FailedDeliveryStatus.OPEN
    assert client.get("/admin/notifications/faileddelivery/", {"provider": "fcm"}).status_code == 200


def test_the_403_page_is_the_admins_own_with_the_role_and_a_way_back(client):
    client.force_login(staff(roles.SUPPORT))
    index = client.get("/admin/").content.decode()
    assert "View site" not in index and "API docs" in index
    refused = client.get("/admin/accounts/serviceapikey/", HTTP_REFERER="http://testserver/admin/")
    html = refused.content.decode()
    assert refused.status_code == 403
    assert "You don't have permission to see the service API keys." in html
    assert "Your role: <strong>Support</strong>" in html
    assert 'href="http://testserver/admin/"' in html and "Back to the previous page" in html
    assert 'id="site-name"' in html  # the admin's header: the page is the admin's own

    typed = client.get("/admin/accounts/serviceapikey/").content.decode()  # no page to go back to
    assert "Back to the previous page" not in typed and "Back to the admin home" in typed

    api = permission_denied(RequestFactory().get("/api/v1/devices/"))
    assert (api.status_code, api["Content-Type"]) == (403, "application/json")
