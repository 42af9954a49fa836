"""The delivery log's lists at any size: pages that count no further than the next page, searches by index."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import roles
from devices.models import Device
from notifications.models import Delivery, Notification
from tests.rows import notification_row
from tests.staff import staff

pytestmark = pytest.mark.django_db

NOTIFICATIONS = "/admin/notifications/notification/"
DELIVERIES = "/admin/notifications/delivery/"


def device(user_id: str, token: str) -> Device:
    return Device.objects.create(user_id=user_id, platform="android", provider="fcm", token=token)


def notification(user_id: str, **fields: object) -> Notification:
    defaults = {"title": "Deal", "body": "b", "category": "promotions", "source": "api", "status": "sending"}
    return notification_row(user_id=user_id, **{**defaults, **fields})


def deliver(n: Notification, to: Device, status: str = "delivered") -> Delivery:
    return Delivery.objects.create(notification=n, device=to, provider="fcm", status=status)


@pytest.fixture
def admin_client(client):  # type: ignore[no-untyped-def]
    client.force_login(staff(roles.ADMINISTRATORS))
    return client


@pytest.fixture
def log():  # type: ignore[no-untyped-def]
    """55 notifications to 55 shoppers, each delivered to one of two devices and failed on the other."""
    made = []
    for i in range(55):
        n = notification(f"shopper-{i}")
        deliver(n, device(f"shopper-{i}", f"tok-{i}-a"))
        deliver(n, device(f"shopper-{i}", f"tok-{i}-b"), status="failed")
        made.append(n)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE notifications_notification")
    return made


def counts(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"].upper() or "DISTINCT" in q["sql"]]


def test_the_notification_log_pages_without_counting_the_table(admin_client, log):
    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get(NOTIFICATIONS)
    assert first.status_code == 200
    assert counts(queries) == []  # no COUNT(*) of the list, no DISTINCT for the filters or a date hierarchy
    cl = first.context["cl"]
    assert [n.pk for n in cl.result_list] == [n.pk for n in reversed(log)][:50]
    html = first.content.decode()
    assert "about 55 notifications" in html, re.findall(r"about [0-9,]+ notif[a-z]*|[0-9,]+ notifications", html)
    assert "?p=2" in html and "showall" not in html  # no "Show all": it would read every row
    # Each row's deliveries are counted for the rows shown: delivered to one of its two devices.
    assert cl.result_list[0].total == 2 and cl.result_list[0].delivered == 1
    assert "Delivered to 1 of 2 devices; failed on 1 device" in html

    last = admin_client.get(NOTIFICATIONS, {"p": 2})
    assert [n.pk for n in last.context["cl"].result_list] == [n.pk for n in log[:5][::-1]]
    assert "55 notifications" in last.content.decode()  # the last page knows the count
    assert admin_client.get(NOTIFICATIONS, {"p": 3}).status_code == 302  # past the end: Django's "?e=1"


def test_a_filtered_list_says_only_that_there_is_more(admin_client, log):
    page = admin_client.get(NOTIFICATIONS, {"category": "promotions"})
    assert len(page.context["cl"].result_list) == 50
    assert "more than 50 notifications" in page.content.decode()
    assert len(admin_client.get(NOTIFICATIONS, {"category": "order_updates"}).context["cl"].result_list) == 0
    by_provider = admin_client.get(NOTIFICATIONS, {"provider": "fcm", "p": 2})
    assert len(by_provider.context["cl"].result_list) == 5  # one row per notification, not per delivery


def test_the_category_filter_lists_the_configured_categories(admin_client, settings):
    settings.NOTIFICATION_CATEGORIES = {**settings.NOTIFICATION_CATEGORIES, "loyalty": "marketing"}
    html = admin_client.get(NOTIFICATIONS).content.decode()
    assert "?category=loyalty" in html and "?category=order_updates" in html


def test_a_notifications_page_counts_its_deliveries(admin_client, log):
    html = admin_client.get(f"{NOTIFICATIONS}{log[0].pk}/change/").content.decode()
    assert "Delivered to 1 of 2 devices; failed on 1 device" in html


def found(client, term: str) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(n.pk for n in client.get(NOTIFICATIONS, {"q": term}).context["cl"].result_list)


def test_search_finds_a_user_a_notification_a_source_and_a_token(admin_client, log):
    event = notification("shopper-3", source="event", source_ref="4242")
    run = notification("shopper-4", source="campaign", source_ref="77")
    assert found(admin_client, "shopper-3") == sorted([log[3].pk, event.pk])
    assert found(admin_client, str(log[7].pk)) == [log[7].pk]
    assert found(admin_client, f"#{log[7].pk}") == [log[7].pk]
    assert found(admin_client, "4242") == [event.pk]
    assert found(admin_client, "77") == [run.pk]
    # A token prefix: the notifications of the devices it starts, found through devices' token index.
    assert found(admin_client, "tok-12-") == [log[12].pk]
    assert found(admin_client, "tok-5") == sorted([log[5].pk] + [n.pk for n in log[50:55]])
    assert found(admin_client, "nobody") == []
    # The devices' current token: a delivery's copy of an older token is not what is searched.
    Device.objects.filter(token="tok-9-a").update(token="renewed-9")
    assert found(admin_client, "renewed-9") == [log[9].pk]


def test_search_is_answered_by_indexes(admin_client, log):
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(NOTIFICATIONS, {"q": "shopper-3"})
    listings = [q["sql"] for q in queries.captured_queries if 'FROM "notifications_notification"' in q["sql"]]
    assert listings and all(" IN (SELECT" not in sql for sql in listings)  # token matches as ids: no subquery


def test_the_delivery_log_pages_and_searches(admin_client, log):
    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get(DELIVERIES)
    assert first.status_code == 200 and counts(queries) == []
    assert len(first.context["cl"].result_list) == 100 and "?p=2" in first.content.decode()
    by_token = admin_client.get(DELIVERIES, {"q": "tok-12-"}).context["cl"].result_list
    assert sorted(d.device.token for d in by_token) == ["tok-12-a", "tok-12-b"]
    by_notification = admin_client.get(DELIVERIES, {"q": f"#{log[3].pk}"}).context["cl"].result_list
    assert {d.notification_id for d in by_notification} == {log[3].pk}
