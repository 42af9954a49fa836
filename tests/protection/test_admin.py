"""Support's shopper page answers "why didn't I get it?" in one place."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts import roles
from devices.services import register_device
from notifications.engine import Content, submit
from preferences.models import FrequencyCap
from preferences.services import update_preferences
from tests.staff import staff

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_shopper_page_shows_devices_preferences_caps_and_what_happened(client, engine):
    register_device(user_id="ana", platform="android", token="ok-ana-page", locale="de-DE", timezone="Europe/Berlin")
    update_preferences("ana", categories={"price_drops": False})
    for title, category in [("Deal 1", "promotions"), ("Deal 2", "promotions"), ("Deal 3", "promotions")]:
        submit(user_ids=["ana"], content=Content(title=title, body="b", category=category), source="api")
    submit(user_ids=["ana"], content=Content(title="Cheaper yoghurt", body="b", category="price_drops"), source="api")
    client.force_login(staff(roles.SUPPORT))
    page = client.get("/admin/shopper/", {"user_id": "ana"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "ok-ana-page" in html and "Europe/Berlin" in html
    assert "price_drops: <strong>off</strong>" in html
    assert "<strong>2</strong> of 2 — reached" in html  # per day
    assert "Frequency cap reached: 2 marketing push(es) per day." in html
    assert "The shopper switched off &#x27;price_drops&#x27; notifications." in html
    assert html.count("Delivered to its device.") == 2  # the timeline says what each sent push did
    index = client.get("/admin/")
    assert "Look up a shopper" in index.content.decode()


def test_administrators_tune_the_caps_and_support_and_marketers_only_read_them(client):
    for role in (roles.SUPPORT, roles.MARKETERS):
        client.force_login(staff(role))
        assert client.get("/admin/preferences/frequencycap/").status_code == 200
        assert client.get("/admin/preferences/frequencycap/add/").status_code == 403
    cap = FrequencyCap.objects.get(window=timedelta(days=1))
    client.force_login(staff(roles.ADMINISTRATORS))
    client.post(
        "/admin/preferences/frequencycap/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": cap.pk,
            "form-0-max_pushes": "3",
            "form-0-window": "1 00:00:00",
            "form-0-is_active": "on",
            "_save": "Save",
        },
    )
    cap.refresh_from_db()
    assert cap.max_pushes == 3
