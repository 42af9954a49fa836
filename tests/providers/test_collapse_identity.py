"""Issue 21, item 2: a push sent twice shows once.

Every push carries its notification's collapse identity, so that a second copy (a batch sent again after a
database failover) replaces the first on the device instead of stacking: FCM's `android.notification.tag`
(both transports), APNs' `apns-collapse-id`, Web Push's `Topic` and the payload's `tag` the service worker
shows it under. Through the real provider clients against pushsim, as the workers send.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest

from .conftest import browser_subscription, collapse_identities, send_with

MESSAGE = PushMessage(title="Order 1042 is delayed", body="Now arriving 15:00-16:00", data={"order_id": "1042"})
TOPIC = re.compile(r"[A-Za-z0-9_-]{32}")  # RFC 8030's Topic, filled: a digest of a key it can't take as it is


@pytest.fixture(params=["fcm/http", "fcm/sdk", "apns", "webpush"])
def channel(request, provider_settings) -> str:  # type: ignore[no-untyped-def]
    if request.param.startswith("fcm/"):
        provider_settings.FCM_TRANSPORT = request.param.removeprefix("fcm/")
    return request.param


class Device:
    """One device of the channel's provider, and what it received."""

    def __init__(self, sim, channel: str, name: str) -> None:  # type: ignore[no-untyped-def]
        self.sim, self.provider, self.name = sim, channel.split("/")[0], f"ok-{name}-{channel.replace('/', '-')}"
        self.browser_key: ec.EllipticCurvePrivateKey | None = None
        if self.provider == "webpush":
            self.browser_key = ec.generate_private_key(ec.SECP256R1())
            p256dh, auth = browser_subscription(self.browser_key)
            self.target = PushTarget(f"{sim.base_url}/wp/{self.name}", web_push_p256dh=p256dh, web_push_auth=auth)
        else:
            self.target = PushTarget(self.name)

    def send(self, message: PushMessage, notification_id: str) -> SendRequest:
        request = SendRequest(self.target, message, notification_id=notification_id)
        self.resend(request)
        return request

    def resend(self, request: SendRequest) -> None:
        [outcome] = send_with(self.provider, [request])
        assert outcome.kind is OutcomeKind.DELIVERED, outcome

    def identities(self) -> list[tuple[str | None, str | None]]:
        return collapse_identities(self.sim, self.name, self.browser_key)

    def fcm_apns_collapse_ids(self) -> list[str | None]:
        """The apns-collapse-id in FCM's own APNs headers (for an iOS app on FCM)."""
        return [push["payload"]["apns"]["headers"].get("apns-collapse-id") for push in self.sim.messages(self.name)]


def test_each_push_carries_its_notifications_identity_and_a_resent_copy_the_same(channel, sim):
    device = Device(sim, channel, "ident")
    first = device.send(MESSAGE, "7001")
    device.send(MESSAGE, "7002")
    device.resend(first)  # the same notification's push again, as after a failover

    shown = [tag for tag, _ in device.identities()]
    assert shown == ["n7001", "n7002", "n7001"]
    if device.provider == "fcm":
        # No android.collapse_key of its own: FCM keeps four collapse keys per device, one per notification would
        # overrun them; the tag replaces a copy on the device.
        assert [undelivered for _, undelivered in device.identities()] == [None, None, None]
        assert device.fcm_apns_collapse_ids() == shown
    else:  # APNs' one header; Web Push's Topic is the tag itself, fit for RFC 8030 as it is
        assert device.identities() == [(tag, tag) for tag in shown]


def test_a_messages_own_collapse_key_stays_the_rule(channel, sim):
    """An order's updates replace each other: two notifications of one key show under that key."""
    device = Device(sim, channel, "own-key")
    order = replace(MESSAGE, collapse_key="order-1042")
    device.send(order, "7101")
    device.send(order, "7102")
    assert device.identities() == [("order-1042", "order-1042")] * 2
    if device.provider == "fcm":
        assert device.fcm_apns_collapse_ids() == ["order-1042"] * 2


def test_a_key_a_provider_cannot_take_as_it_is_is_carried_as_a_stable_digest(channel, sim):
    """A key over APNs' 64 bytes or outside RFC 8030's Topic (32 URL-safe base64 characters) is sent as a digest,
    the same for each push of the key and another for a key that differs only past the limit (a cut would make the
    two replace each other), and accepted: pushsim refuses a bad Topic or apns-collapse-id as the services do."""
    device = Device(sim, channel, "long-key")
    long_key = "Größe-" * 10  # 60 characters, 80 bytes
    device.send(replace(MESSAGE, collapse_key=long_key + "1"), "7201")
    device.send(replace(MESSAGE, collapse_key=long_key + "1"), "7202")
    device.send(replace(MESSAGE, collapse_key=long_key + "2"), "7203")
    received = device.identities()
    if device.provider == "fcm":  # a tag and a collapse key take any string; its APNs headers get the digest
        assert received == [(long_key + "1", long_key + "1")] * 2 + [(long_key + "2", long_key + "2")]
        collapsed = device.fcm_apns_collapse_ids()
    else:
        collapsed = [undelivered for _, undelivered in received]
    assert all(TOPIC.fullmatch(c or "") for c in collapsed), collapsed
    assert collapsed[0] == collapsed[1] != collapsed[2]
    if device.provider == "webpush":  # the service worker's tag takes any string
        assert [tag for tag, _ in received] == [long_key + "1", long_key + "1", long_key + "2"]


def test_a_test_push_belongs_to_no_notification_and_carries_no_identity(channel, sim):
    device = Device(sim, channel, "no-ident")
    device.resend(SendRequest(device.target, MESSAGE))
    assert device.identities() == [(None, None)]
