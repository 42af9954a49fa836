"""Staff roles created by migration, and the device admin Support works in."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts import roles
from devices.models import Device
from tests.staff import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def devices():
    return Device.objects.bulk_create(
        [
            Device(user_id="alice", platform="android", provider="fcm", token="abcdef-1"),
            Device(user_id="bob", platform="ios", provider="apns", token="abcxyz-2"),
            Device(user_id="carol", platform="ios", provider="apns", token="zzz-3"),
        ]
    )


def test_migrations_create_the_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {roles.MARKETERS, roles.SUPPORT, roles.ADMINISTRATORS}
    support = set(Group.objects.get(name=roles.SUPPORT).permissions.values_list("codename", flat=True))
    assert "view_device" in support
    assert not {"change_device", "delete_device", "add_device"} & support


def test_support_reads_devices_but_cannot_change_them(client, devices):
    client.force_login(staff(roles.SUPPORT))
    device = devices[0]
    assert client.get("/admin/devices/device/").status_code == 200
    page = client.get(f"/admin/devices/device/{device.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    answer = client.post(
        "/admin/devices/device/", {"action": "deactivate", "_selected_action": [device.pk]}, follow=True
    )
    device.refresh_from_db()
    assert device.is_active
    assert client.post(f"/admin/devices/device/{device.pk}/delete/", {"post": "yes"}).status_code == 403
    assert answer.status_code == 200


def test_administrators_deactivate_devices_from_the_admin(client, devices):
    client.force_login(staff(roles.ADMINISTRATORS))
    client.post("/admin/devices/device/", {"action": "deactivate", "_selected_action": [devices[0].pk]})
    devices[0].refresh_from_db()
    assert (devices[0].is_active, devices[0].deactivation_reason) == (False, "staff")


@pytest.mark.parametrize(
    ("term", "expected"), [("alice", {"abcdef-1"}), ("abc", {"abcdef-1", "abcxyz-2"}), ("zz", {"zzz-3"})]
)
def test_support_finds_devices_by_user_id_or_token_prefix(client, devices, term, expected):
    client.force_login(staff(roles.SUPPORT))
    page = client.get("/admin/devices/device/", {"q": term})
    found = {d.token for d in page.context["cl"].result_list}
    assert found == expected


def test_device_list_filters_by_platform_and_state(client, devices):
    client.force_login(staff(roles.SUPPORT))
    page = client.get("/admin/devices/device/", {"platform__exact": "ios", "is_active__exact": "1"})
    assert {d.token for d in page.context["cl"].result_list} == {"abcxyz-2", "zzz-3"}


def test_marketers_cannot_reach_api_keys(client):
    client.force_login(staff(roles.MARKETERS))
    assert client.get("/admin/accounts/serviceapikey/").status_code == 403


def test_admin_creates_a_scoped_key_and_shows_it_once(client):
    from accounts.models import ServiceApiKey

    client.force_login(staff(roles.ADMINISTRATORS))
    answer = client.post(
        "/admin/accounts/serviceapikey/add/", {"name": "cart-service", "scopes": ["events:write"]}, follow=True
    )
    [message] = [str(m) for m in answer.context["messages"] if "API key for cart-service" in str(m)]
    key = message.split(" is: ", 1)[1].split(". ", 1)[0]
    stored = ServiceApiKey.objects.get_from_key(key)
    assert (stored.name, stored.scopes) == ("cart-service", ["events:write"])


def test_a_key_without_scopes_is_refused_by_the_admin_form(client):
    from accounts.models import ServiceApiKey

    client.force_login(staff(roles.ADMINISTRATORS))
    answer = client.post("/admin/accounts/serviceapikey/add/", {"name": "nothing"})
    assert answer.status_code == 200
    assert "scopes" in answer.context["adminform"].form.errors
    assert not ServiceApiKey.objects.exists()
