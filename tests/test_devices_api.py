"""The app's device registry over the REST API: register, refresh, move, update, unregister."""

from __future__ import annotations

import pytest

from devices.models import DeactivationReason, Device
from devices.token_cache import tokens_for_users

pytestmark = pytest.mark.django_db(transaction=True)  # real commits: the cache follows them

ANDROID = {"platform": "android", "token": "fcm-token-1", "locale": "en_gb", "timezone": "Europe/London"}
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


def cached_tokens(user_id: str) -> set[str]:
    return {target.token for target in tokens_for_users([user_id])[user_id]}


def test_register_creates_then_refreshes(app_client):
    client = app_client("alice")
    first = client.post("/api/v1/devices/", ANDROID, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["registration"] == "created"
    assert first.json()["device"]["locale"] == "en-GB"  # normalised
    assert first.json()["device"]["provider"] == "fcm"

    again = client.post("/api/v1/devices/", {**ANDROID, "app_version": "4.2.0"}, format="json")
    assert again.status_code == 200
    assert again.json()["registration"] == "refreshed"
    device = Device.objects.get(token="fcm-token-1")
    assert device.app_version == "4.2.0"
    assert device.last_seen_at > device.created_at
    assert Device.objects.count() == 1
    assert cached_tokens("alice") == {"fcm-token-1"}


def test_token_moves_to_new_user_when_phone_changes_hands(app_client):
    app_client("alice").post("/api/v1/devices/", ANDROID, format="json")
    assert cached_tokens("alice") == {"fcm-token-1"}

    moved = app_client("bob").post("/api/v1/devices/", ANDROID, format="json")
    assert moved.status_code == 200
    assert moved.json()["registration"] == "moved"
    assert Device.objects.get(token="fcm-token-1").user_id == "bob"
    assert app_client("alice").get("/api/v1/devices/").json() == []
    assert cached_tokens("alice") == set()
    assert cached_tokens("bob") == {"fcm-token-1"}


def test_unregister_then_register_again_reactivates(app_client):
    client = app_client("alice")
    client.post("/api/v1/devices/", ANDROID, format="json")

    assert client.delete("/api/v1/devices/fcm-token-1/").status_code == 204
    device = Device.objects.get(token="fcm-token-1")
    assert not device.is_active
    assert device.deactivation_reason == DeactivationReason.APP_UNREGISTERED
    assert cached_tokens("alice") == set()
    assert client.delete("/api/v1/devices/fcm-token-1/").status_code == 404

    back = client.post("/api/v1/devices/", ANDROID, format="json")
    assert back.status_code == 200
    assert back.json()["registration"] == "reactivated"
    assert Device.objects.get(token="fcm-token-1").is_active
    assert cached_tokens("alice") == {"fcm-token-1"}


def test_new_token_replaces_old_one(app_client):
    client = app_client("alice")
    client.post("/api/v1/devices/", ANDROID, format="json")
    answer = client.post(
        "/api/v1/devices/", {**ANDROID, "token": "fcm-token-2", "replaces": "fcm-token-1"}, format="json"
    )
    assert answer.status_code == 201
    assert answer.json()["replaced"] is True
    assert Device.objects.get(token="fcm-token-1").deactivation_reason == DeactivationReason.REPLACED
    assert cached_tokens("alice") == {"fcm-token-2"}


def test_replaces_cannot_deactivate_another_users_token(app_client):
    app_client("bob").post("/api/v1/devices/", {**ANDROID, "token": "bobs-token"}, format="json")
    answer = app_client("alice").post("/api/v1/devices/", {**ANDROID, "replaces": "bobs-token"}, format="json")
    assert answer.json()["replaced"] is False
    assert Device.objects.get(token="bobs-token").is_active


def test_patch_updates_profile_and_cache(app_client):
    client = app_client("alice")
    client.post("/api/v1/devices/", ANDROID, format="json")
    answer = client.patch("/api/v1/devices/fcm-token-1/", {"timezone": "Asia/Tokyo", "locale": "ja"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["timezone"] == "Asia/Tokyo"
    [target] = tokens_for_users(["alice"])["alice"]
    assert (target.timezone, target.locale) == ("Asia/Tokyo", "ja")


def test_web_device_registers_with_its_subscription(app_client):
    endpoint = "http://127.0.0.1:9099/wp/sub-1"
    answer = app_client("carol").post(
        "/api/v1/devices/",
        {"platform": "web", "web_push": {"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}}},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    device = Device.objects.get(user_id="carol")
    assert (device.token, device.provider, device.web_push_auth) == (endpoint, "webpush", AUTH)
    # The endpoint (with slashes) is the token in the URL.
    assert app_client("carol").delete(f"/api/v1/devices/{endpoint}/").status_code == 204


def test_ios_app_may_register_an_fcm_token(app_client):
    answer = app_client("dan").post(
        "/api/v1/devices/", {"platform": "ios", "token": "fcm-on-ios", "provider": "fcm"}, format="json"
    )
    assert answer.status_code == 201
    assert Device.objects.get(token="fcm-on-ios").provider == "fcm"


def test_users_never_see_or_touch_each_others_devices(app_client):
    app_client("alice").post("/api/v1/devices/", ANDROID, format="json")
    bob = app_client("bob")
    assert bob.get("/api/v1/devices/").json() == []
    assert bob.patch("/api/v1/devices/fcm-token-1/", {"locale": "de"}, format="json").status_code == 404
    assert bob.delete("/api/v1/devices/fcm-token-1/").status_code == 404
    device = Device.objects.get(token="fcm-token-1")
    assert (device.user_id, device.locale, device.is_active) == ("alice", "en-GB", True)


def test_service_with_devices_read_scope_lists_a_users_devices(app_client, service_client):
    app_client("alice").post("/api/v1/devices/", ANDROID, format="json")
    answer = service_client("devices:read").get("/api/v1/users/alice/devices/")
    assert answer.status_code == 200
    assert [d["token"] for d in answer.json()] == ["fcm-token-1"]
    assert service_client("events:write").get("/api/v1/users/alice/devices/").status_code == 403
