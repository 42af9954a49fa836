"""GET/PUT /api/v1/preferences/: a shopper's own choices, validated field by field."""

from __future__ import annotations

import pytest

from preferences.models import Preference

pytestmark = pytest.mark.django_db


def test_defaults_before_any_change(app_client):
    answer = app_client("ana").get("/api/v1/preferences/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["user_id"] == "ana"
    assert body["categories"]["order_updates"] == {"enabled": True, "mandatory": True, "kind": "transactional"}
    assert body["categories"]["promotions"] == {"enabled": True, "mandatory": False, "kind": "marketing"}
    assert body["quiet_hours"]["enabled"] is True
    assert body["timezone"] == ""
    assert not Preference.objects.exists()  # reading writes nothing


def test_a_change_is_kept_and_what_is_left_out_stays(app_client):
    client = app_client("ana")
    first = client.put(
        "/api/v1/preferences/",
        {
            "categories": {"promotions": False},
            "quiet_hours": {"start": "22:00", "end": "07:30"},
            "timezone": "Asia/Tokyo",
        },
        format="json",
    )
    assert first.status_code == 200, first.content
    second = client.put("/api/v1/preferences/", {"categories": {"price_drops": False}}, format="json").json()
    assert second["categories"]["promotions"]["enabled"] is False
    assert second["categories"]["price_drops"]["enabled"] is False
    assert second["quiet_hours"] == {"enabled": True, "start": "22:00", "end": "07:30"}
    assert second["timezone"] == "Asia/Tokyo"
    again = client.put("/api/v1/preferences/", {"categories": {"promotions": True}}, format="json").json()
    assert again["categories"]["promotions"]["enabled"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"categories": {"newsletters": False}}, "categories.newsletters"),
        ({"categories": {"order_updates": False}}, "categories.order_updates"),
        ({"categories": {"promotions": "sometimes"}}, "categories.promotions"),
        ({"quiet_hours": {"start": "25:00"}}, "quiet_hours.start"),
        ({"quiet_hours": {"end": "late"}}, "quiet_hours.end"),
        ({"quiet_hours": {"from": "22:00"}}, "quiet_hours.from"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"user_id": "bob"}, "user_id"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(app_client, body, field):
    answer = app_client("ana").put("/api/v1/preferences/", body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()["errors"], answer.json()
    assert not Preference.objects.exists()


def test_a_shopper_cannot_read_or_change_anothers_preferences(app_client):
    app_client("ana").put("/api/v1/preferences/", {"categories": {"promotions": False}}, format="json")
    bob = app_client("bob")
    assert bob.get("/api/v1/users/ana/preferences/").status_code == 404
    assert (
        bob.put("/api/v1/users/ana/preferences/", {"categories": {"promotions": True}}, format="json").status_code
        == 404
    )
    assert bob.get("/api/v1/preferences/").json()["categories"]["promotions"]["enabled"] is True  # his own
    assert bob.get("/api/v1/users/bob/preferences/").status_code == 200
    assert Preference.objects.get(user_id="ana").disabled_categories == ["promotions"]


def test_preferences_need_a_shopper_token(client, service_client):
    assert client.get("/api/v1/preferences/").status_code == 401
    assert service_client("devices:read").get("/api/v1/users/ana/preferences/").status_code == 401
