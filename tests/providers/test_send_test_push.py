"""`manage.py send_test_push`: from the registry (via the Redis cache) through every adapter."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from devices.models import Device
from devices.services import register_device

from .conftest import browser_subscription

pytestmark = pytest.mark.django_db(transaction=True)


def test_sends_to_every_device_of_the_user_and_deactivates_unknown_tokens(sim):
    p256dh, auth = browser_subscription()
    register_device(user_id="alice", platform="android", token="ok-android-alice")
    register_device(user_id="alice", platform="ios", token="ok-ios-alice")
    register_device(
        user_id="alice",
        platform="web",
        token=f"{sim.base_url}/wp/ok-web-alice",
        web_push_p256dh=p256dh,
        web_push_auth=auth,
    )
    register_device(user_id="alice", platform="android", token="unregistered-alice")
    out = StringIO()
    call_command("send_test_push", "alice", "--title", "Hello Alice", stdout=out)

    lines = out.getvalue().splitlines()
    assert sum("delivered" in line for line in lines) == 3
    assert sim.messages("ok-android-alice")[0]["payload"]["notification"]["title"] == "Hello Alice"
    assert sim.messages("ok-ios-alice")[0]["payload"]["aps"]["alert"]["title"] == "Hello Alice"
    assert sim.messages("ok-web-alice")[0]["outcome"] == "ok"
    assert not Device.objects.get(token="unregistered-alice").is_active
    assert "Deactivated 1 device(s)" in out.getvalue()
