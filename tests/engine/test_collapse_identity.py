"""Issue 21, item 2: a push sent twice shows once, from the API and the event rules through the engine to pushsim.

Each notification's pushes to Android, iOS and the web carry one collapse identity (the tag a second copy replaces
the first by); two notifications carry two; a template's own collapse key stays the rule. (A copy sent again
carrying the same identity: tests/providers/test_collapse_identity.py.)
"""

from __future__ import annotations

import pytest

from devices.services import register_device
from notifications.models import Delivery, DeliveryStatus, Notification
from tests.providers.conftest import collapse_identities

from .conftest import web_device

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_notification_shows_under_its_own_identity_on_android_ios_and_web(engine, service_client):
    register_device(user_id="hana", platform="android", token="ok-ident-android-hana")
    register_device(user_id="hana", platform="ios", token="ok-ident-ios-hana")
    web, browser_key = web_device(engine, "hana", "ok-ident-web-hana")
    client = service_client("notifications:write")
    sent = []
    for order in ("1042", "1043"):
        body = {"user_id": "hana", "title": f"Order {order} is delayed", "body": "15:00", "category": "order_updates"}
        answer = client.post("/api/v1/notifications/", body, format="json")
        assert answer.status_code == 202, answer.content
        sent += answer.json()["notification_ids"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}

    first, second = (f"n{notification_id}" for notification_id in sent)
    assert first != second
    # The device shows each under its notification's identity; Web Push's Topic is the same; no FCM collapse key.
    assert collapse_identities(engine, "ok-ident-android-hana") == [(first, None), (second, None)]
    assert collapse_identities(engine, "ok-ident-ios-hana") == [(first, first), (second, second)]
    assert collapse_identities(engine, web, browser_key) == [(first, first), (second, second)]


def test_a_templates_collapse_key_stays_the_rule(engine, service_client):
    """Order 1042's updates (two templates, one key: order-{{ order_id }}) replace each other on every device."""
    register_device(user_id="ines", platform="android", token="ok-ident-android-ines")
    register_device(user_id="ines", platform="ios", token="ok-ident-ios-ines")
    web, browser_key = web_device(engine, "ines", "ok-ident-web-ines")
    client = service_client("events:write")
    for key, data in [
        ("o1", {"order_id": "1042", "status": "delayed", "new_eta": "15:00-16:00"}),
        ("o2", {"order_id": "1042", "status": "cancelled", "reason": "out of stock"}),
    ]:
        event = {"type": "order_status_changed", "user_id": "ines", "idempotency_key": key, "data": data}
        assert client.post("/api/v1/events/", event, format="json").status_code == 202
    assert set(Notification.objects.values_list("content__template_key", flat=True)) == {
        "order_delayed",
        "order_cancelled",
    }

    both = [("order-1042", "order-1042")] * 2
    assert collapse_identities(engine, "ok-ident-android-ines") == both  # tag and FCM's collapse_key, as before
    assert collapse_identities(engine, "ok-ident-ios-ines") == both
    assert collapse_identities(engine, web, browser_key) == both
