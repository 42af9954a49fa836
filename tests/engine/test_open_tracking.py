"""Issue 18, bug 3: every push carries its notification's id, so a real app can report the open.

The pushes are read as pushsim received them (Web Push decrypted with the browser's key), the id taken
from where the app finds it, and the open reported as the recipient through the API.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from audience.models import Segment
from campaigns import services
from campaigns.models import Campaign
from campaigns.results import results
from devices.services import register_device
from notifications.models import Notification
from providers.base import PushMessage
from providers.payloads import (
    APNS_MAX_BYTES,
    NOTIFICATION_ID_KEY,
    FcmBodyTemplate,
    PayloadTooLargeError,
    WebPushTemplate,
    apns_push,
    check_size,
)
from templates.models import MessageTemplate
from tests.providers.conftest import opened_webpush

from .conftest import web_device

pytestmark = pytest.mark.django_db(transaction=True)


def received_id(sim, token: str, browser_key: ec.EllipticCurvePrivateKey | None = None) -> str:  # type: ignore[no-untyped-def]
    """The notification id in the one push `token` received, where the app reads it on its platform."""
    [push] = sim.messages(token)
    payload = push["payload"]
    if browser_key is not None:  # Web Push: the service worker decrypts the body and reads `data`
        return opened_webpush(push, browser_key)["data"][NOTIFICATION_ID_KEY]
    if "aps" in payload:  # APNs: a custom key beside `aps`
        return payload[NOTIFICATION_ID_KEY]
    value = payload["data"][NOTIFICATION_ID_KEY]  # FCM: a data value, a string as FCM requires
    assert isinstance(value, str)
    return value


def test_a_campaign_push_on_each_platform_carries_the_id_the_app_reports_its_open_with(engine, app_client):
    register_device(user_id="ann", platform="android", token="ok-open-android-ann")
    register_device(user_id="ben", platform="ios", token="ok-open-ios-ben")
    web, browser_key = web_device(engine, "cleo", "ok-open-web-cleo")
    register_device(user_id="dora", platform="android", token="ok-open-android-dora")  # never opens
    template = MessageTemplate.objects.create(
        key="weekend", name="weekend", category="promotions", priority="normal", title="{{ d }} off", body="Now."
    )
    campaign = Campaign.objects.create(
        name="Weekend", segment=Segment.objects.create(name="everyone"), template=template, context={"d": "20%"}
    )
    run = services.launch(campaign)
    assert run is not None
    sent = {n.user_id: n for n in Notification.objects.filter(source="campaign", source_ref=str(run.pk))}
    assert set(sent) == {"ann", "ben", "cleo", "dora"}
    [before] = results(campaign).variants
    assert (before.delivered, before.opened, before.open_rate) == (4, 0, 0.0)

    ids = {
        "ann": received_id(engine, "ok-open-android-ann"),
        "ben": received_id(engine, "ok-open-ios-ben"),
        "cleo": received_id(engine, web, browser_key),
    }
    # One shared message per language, yet each push names its own notification.
    assert ids == {user: str(sent[user].pk) for user in ids}
    for user, notification_id in ids.items():
        # What the app does with it: curl -X POST …/api/v1/notifications/<id>/opened/ -H "Authorization: Bearer …"
        answer = app_client(user).post(f"/api/v1/notifications/{notification_id}/opened/")
        assert answer.status_code == 200, answer.content
        assert answer.json()["id"] == int(notification_id)
    assert all(Notification.objects.get(pk=sent[user].pk).opened_at for user in ids)
    assert Notification.objects.get(pk=sent["dora"].pk).opened_at is None

    [after] = results(campaign).variants
    assert (after.delivered, after.opened, after.open_rate) == (4, 3, 0.75)
    # Someone else's id opens nothing.
    assert app_client("dora").post(f"/api/v1/notifications/{ids['ann']}/opened/").status_code == 404


def test_an_api_push_carries_its_own_id_whatever_its_data_says(engine, shopper, service_client, app_client):
    shopper("erin", "ok-open-android-erin", "ok-open-ios-erin")
    answer = service_client("notifications:write").post(
        "/api/v1/notifications/",
        {
            "user_id": "erin",
            "title": "Order 7 is on its way",
            "body": "Arriving at 15:00",
            "category": "order_updates",
            "data": {"order_id": "7", NOTIFICATION_ID_KEY: "1"},  # can't make the app report another one
        },
        format="json",
    )
    assert answer.status_code == 202, answer.content
    [notification_id] = answer.json()["notification_ids"]
    assert (
        received_id(engine, "ok-open-android-erin") == received_id(engine, "ok-open-ios-erin") == str(notification_id)
    )
    assert engine.messages("ok-open-android-erin")[0]["payload"]["data"]["order_id"] == "7"
    opened = app_client("erin").post(f"/api/v1/notifications/{notification_id}/opened/")
    assert opened.status_code == 200, opened.content
    assert Notification.objects.get(pk=notification_id).opened_at is not None


def test_the_size_limits_count_the_id():
    """A message that fits only without the id is refused up front (API, template forms), and at send time."""
    base = len(json.dumps(apns_push(PushMessage(title="t", body="")).payload, separators=(",", ":")))
    # Exactly APNs' limit without an id: too large once the id is in.
    message = PushMessage(title="t", body="x" * (APNS_MAX_BYTES - base))
    push = apns_push(message)
    assert push.size == APNS_MAX_BYTES
    with pytest.raises(PayloadTooLargeError):
        push.payload_for("123")
    with pytest.raises(PayloadTooLargeError):
        check_size(message)
    small = PushMessage(title="t", body="b", data={"k": "v"})
    fcm = json.loads(FcmBodyTemplate.of(small).body("tok", "42"))["message"]
    assert fcm["token"] == "tok" and fcm["data"] == {"k": "v", NOTIFICATION_ID_KEY: "42"}
    assert json.loads(WebPushTemplate.of(small).payload("42"))["data"][NOTIFICATION_ID_KEY] == "42"
    assert NOTIFICATION_ID_KEY not in json.loads(FcmBodyTemplate.of(small).body("tok"))["message"]["data"]


def test_the_api_docs_tell_the_app_where_the_id_is_on_each_platform(client):
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    description = schema["paths"]["/api/v1/notifications/{notification_id}/opened/"]["post"]["description"]
    for where in ("Android (FCM)", "iOS (APNs)", "Web Push", NOTIFICATION_ID_KEY, "curl -X POST", "Bearer $JWT"):
        assert where in description
