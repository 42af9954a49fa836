"""Campaign test sends (issue 17, item 9): a marketer's "Send a test" skips shopper protection, so it may reach
only devices an Administrator marked as test devices, never a shopper the marketer names.

Through the admin as a marketer would, with the real engine (tasks eager), PostgreSQL, Redis and the simulator.
"""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.utils.html import strip_tags

from accounts import roles
from audience.models import Segment
from campaigns.models import Campaign
from devices.models import Device
from devices.services import register_device
from notifications.models import Delivery, Notification
from templates.models import MessageTemplate
from tests.engine.conftest import engine  # noqa: F401 - the in-process engine (sim and provider_settings)
from tests.staff import staff

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def promotion() -> Campaign:
    template = MessageTemplate.objects.create(
        key="flash_sale", name="flash sale", category="promotions", priority="normal", title="50% off", body="Now."
    )
    return Campaign.objects.create(name="Flash sale", template=template, segment=Segment.objects.create(name="all"))


@pytest.fixture
def marketer(client: Client) -> Client:
    client.force_login(staff(roles.MARKETERS))
    return client


def send_test(client: Client, campaign: Campaign, kind: str, target: str) -> list[str]:
    """Press "Send a test" on the campaign's page; the messages the page shows next (as text)."""
    url = f"/admin/campaigns/campaign/{campaign.pk}/test-send/"
    answer = client.post(url, {"kind": kind, "target": target}, follow=True)
    assert answer.redirect_chain == [(f"/admin/campaigns/campaign/{campaign.pk}/change/", 302)]
    assert answer.status_code == 200
    # Read from the page as shown: the page also renders templates (the campaign's checks), so the test client's
    # captured contexts are not the admin page's alone.
    shown = re.search(r'<ul class="messagelist">(.*?)</ul>', answer.content.decode(), re.S)
    items = re.findall(r"<li[^>]*>(.*?)</li>", shown.group(1), re.S) if shown else []
    return [html.unescape(strip_tags(item)).strip() for item in items]


def test_a_test_to_an_ordinary_shoppers_user_id_is_refused(engine, marketer, promotion):  # noqa: F811
    register_device(user_id="ana", platform="android", token="ok-ana-phone")
    shown = send_test(marketer, promotion, "user", "ana")
    assert shown == [
        "Test not sent: user id: This user has no active test device: a test goes only to a device marked as a "
        "test device by an Administrator (Devices → test device), not to a shopper's."
    ]
    assert not Notification.objects.exists() and not Delivery.objects.exists()
    assert engine.messages("ok-ana-phone") == []


def test_a_test_to_an_ordinary_token_is_refused(engine, marketer, promotion):  # noqa: F811
    register_device(user_id="ana", platform="android", token="ok-ana-phone")
    [shown] = send_test(marketer, promotion, "token", "ok-ana-phone")
    assert shown.startswith("Test not sent: token: No active test device has this token")
    assert "marked as a test device by an Administrator" in shown
    assert not Notification.objects.exists() and not Delivery.objects.exists()
    assert engine.messages("ok-ana-phone") == []


def test_a_test_to_a_user_id_reaches_only_their_test_devices(engine, marketer, promotion):  # noqa: F811
    register_device(user_id="qa", platform="android", token="ok-qa-phone")
    register_device(user_id="qa", platform="ios", token="ok-ios-qa-own")
    Device.objects.filter(token="ok-qa-phone").update(is_test_device=True)
    [shown] = send_test(marketer, promotion, "user", "qa")
    assert shown.startswith("Test sent to qa: notification #")
    assert [m["payload"]["notification"]["title"] for m in engine.messages("ok-qa-phone")] == ["50% off"]
    assert engine.messages("ok-ios-qa-own") == []
    sent = Notification.objects.get()
    assert (sent.source, sent.target_device.token) == ("test", "ok-qa-phone")


def test_a_test_to_a_test_devices_token_is_pushed(engine, marketer, promotion):  # noqa: F811
    register_device(user_id="qa", platform="android", token="ok-qa-phone")
    Device.objects.filter(token="ok-qa-phone").update(is_test_device=True)
    [shown] = send_test(marketer, promotion, "token", "ok-qa-phone")
    assert shown.startswith("Test sent to ok-qa-phone: notification #")
    assert len(engine.messages("ok-qa-phone")) == 1


def test_a_test_device_whose_token_moves_to_a_shopper_is_no_longer_one(engine, marketer, promotion):  # noqa: F811
    register_device(user_id="qa", platform="android", token="ok-qa-phone")
    Device.objects.filter(token="ok-qa-phone").update(is_test_device=True)
    register_device(user_id="ana", platform="android", token="ok-qa-phone")  # the phone now signed in as ana
    assert "Test not sent" in send_test(marketer, promotion, "token", "ok-qa-phone")[0]
    assert "Test not sent" in send_test(marketer, promotion, "user", "ana")[0]
    assert not Notification.objects.exists() and engine.messages("ok-qa-phone") == []


def test_a_nul_in_the_target_is_a_form_error_not_a_500(marketer, promotion):
    assert send_test(marketer, promotion, "user", "ana\x00") == [
        "Test not sent: user id: Contains NUL or a lone surrogate."
    ]
    assert send_test(marketer, promotion, "token", "tok\x00") == [
        "Test not sent: token: Contains NUL or a lone surrogate."
    ]


def test_only_administrators_mark_test_devices(client):
    device = register_device(user_id="qa", platform="android", token="ok-qa-phone").device
    url = f"/admin/devices/device/{device.pk}/change/"
    for role in (roles.MARKETERS, roles.SUPPORT):
        client.force_login(staff(role))
        client.post(url, {"is_test_device": "on", "_save": "Save"})
        client.post("/admin/devices/device/", {"action": "mark_test_devices", "_selected_action": [device.pk]})
        device.refresh_from_db()
        assert not device.is_test_device, role
    client.force_login(staff(roles.ADMINISTRATORS))
    assert client.post(url, {"is_test_device": "on", "_save": "Save"}).status_code == 302
    device.refresh_from_db()
    assert device.is_test_device and device.user_id == "qa" and device.is_active
    listing = client.get("/admin/devices/device/", {"is_test_device__exact": "1"}).content.decode()
    assert "ok-qa-phone" in listing
