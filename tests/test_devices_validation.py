"""Bad input is refused with 4xx naming the field, and nothing is written."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from devices.models import Device

pytestmark = pytest.mark.django_db

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
VALID = {"platform": "android", "token": "tok-1"}
ENDPOINT = "https://fcm.googleapis.com/fcm/send/x"  # a push service's (WEB_PUSH_ALLOWED_ORIGINS)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"platform": "blackberry", "token": "t"}, "platform"),
        ({"token": "t"}, "platform"),
        ({"platform": "android"}, "token"),
        ({"platform": "android", "token": ""}, "token"),
        ({"platform": "android", "token": "x" * 513}, "token"),
        ({"platform": "android", "token": "has spaces"}, "token"),
        ({"platform": "android", "token": "t" * 2049}, "token"),
        ({**VALID, "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({**VALID, "locale": "english please"}, "locale"),
        ({**VALID, "app_version": "latest"}, "app_version"),
        ({**VALID, "provider": "webpush"}, "provider"),
        ({**VALID, "provider": "apns"}, "provider"),  # Android has no APNs
        ({**VALID, "colour": "green"}, "colour"),
        ({"platform": "web"}, "web_push"),
        (
            {**VALID, "web_push": {"endpoint": ENDPOINT, "keys": {"p256dh": P256DH, "auth": AUTH}}},
            "web_push",
        ),
        (
            {"platform": "web", "web_push": {"endpoint": "not a url", "keys": {"p256dh": P256DH, "auth": AUTH}}},
            "web_push.endpoint",
        ),
        (
            {
                "platform": "web",
                "web_push": {"endpoint": ENDPOINT, "keys": {"p256dh": "abc", "auth": AUTH}},
            },
            "web_push.keys.p256dh",
        ),
        (
            {"platform": "web", "web_push": {"endpoint": ENDPOINT, "keys": {"p256dh": P256DH}}},
            "web_push.keys.auth",
        ),
        (
            {
                "platform": "web",
                "token": "other",
                "web_push": {"endpoint": ENDPOINT, "keys": {"p256dh": P256DH, "auth": AUTH}},
            },
            "token",
        ),
    ],
)
def test_register_refuses_bad_input_naming_the_field(app_client, body, field):
    answer = app_client("alice").post("/api/v1/devices/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"], answer.json()
    assert answer.json()["code"] == "invalid"
    assert Device.objects.count() == 0


def test_all_bad_fields_are_reported_at_once(app_client):
    answer = app_client("alice").post(
        "/api/v1/devices/", {**VALID, "timezone": "Nowhere", "locale": "??", "typo": 1}, format="json"
    )
    assert set(answer.json()["errors"]) == {"timezone", "locale", "typo"}


@override_settings(WEB_PUSH_ALLOW_HTTP_ENDPOINTS=False)
def test_web_push_endpoint_must_be_https_in_production(app_client):
    body = {"platform": "web", "web_push": {"endpoint": "http://p.example/x", "keys": {"p256dh": P256DH, "auth": AUTH}}}
    answer = app_client("alice").post("/api/v1/devices/", body, format="json")
    assert answer.status_code == 400
    assert "web_push.endpoint" in answer.json()["errors"]


def test_malformed_json_is_a_400(app_client):
    answer = app_client("alice").post("/api/v1/devices/", "{not json", content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "parse_error"


def test_a_non_object_body_is_a_400(app_client):
    answer = app_client("alice").post("/api/v1/devices/", "[1, 2]", content_type="application/json")
    assert answer.status_code == 400
    assert Device.objects.count() == 0


def test_oversized_body_is_a_413_before_parsing(app_client, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = json.dumps({**VALID, "app_id": "x" * 2000})
    answer = app_client("alice").post("/api/v1/devices/", body, content_type="application/json")
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"
    assert Device.objects.count() == 0


def test_patch_refuses_fields_it_cannot_change(app_client):
    client = app_client("alice")
    client.post("/api/v1/devices/", VALID, format="json")
    answer = client.patch("/api/v1/devices/tok-1/", {"platform": "ios", "timezone": "Bad/Zone"}, format="json")
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"platform", "timezone"}
    assert client.patch("/api/v1/devices/tok-1/", {}, format="json").status_code == 400
    assert Device.objects.get().platform == "android"
