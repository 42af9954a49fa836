"""The direct-send API refuses bad input with the field named, and creates nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import IdempotentRequest, Notification

pytestmark = pytest.mark.django_db

VALID = {"user_id": "alice", "title": "Hi", "body": "There", "category": "promotions"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "spam"}, "category"),
        ({"user_id": None, "user_ids": []}, "user_ids"),
        ({"user_id": None, "user_ids": [f"u{i}" for i in range(1001)]}, "user_ids"),
        ({"user_id": None}, "user_ids"),  # no audience at all
        ({"user_ids": ["bob"]}, "user_ids"),  # both forms
        ({"title": "x" * 201}, "title"),
        ({"title": ""}, "title"),
        ({"body": "x" * 1000, "data": {f"k{i}": "v" * 100 for i in range(40)}}, "body"),  # over 4 KB
        ({"data": {"n": 1}}, "data.n"),
        ({"data": ["not", "an", "object"]}, "data"),
        ({"send_at": "tomorrow at noon"}, "send_at"),
        ({"send_at": (timezone.now() - timedelta(hours=1)).isoformat()}, "send_at"),
        # Kept for NOTIFICATION_RETENTION_DAYS from when it is written: at most SCHEDULE_AHEAD_MAX_DAYS ahead.
        ({"send_at": (timezone.now() + timedelta(days=61)).isoformat()}, "send_at"),
        ({"priority": "urgent"}, "priority"),
        ({"ttl_seconds": -1}, "ttl_seconds"),
        ({"image": "not a url"}, "image"),
        ({"audience": "everyone"}, "audience"),
    ],
)
def test_bad_requests_are_400_with_the_field_named(service_client, change, field):
    body = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    answer = service_client("notifications:write").post("/api/v1/notifications/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"], answer.json()
    assert not Notification.objects.exists()
    assert not IdempotentRequest.objects.exists()


def test_needs_the_notifications_write_scope(service_client, app_client):
    assert service_client("events:write").post("/api/v1/notifications/", VALID, format="json").status_code == 403
    assert app_client("alice").post("/api/v1/notifications/", VALID, format="json").status_code == 401
    assert not Notification.objects.exists()


def test_a_recent_past_send_at_is_within_tolerance(service_client):
    body = {**VALID, "send_at": (timezone.now() - timedelta(seconds=30)).isoformat()}
    answer = service_client("notifications:write").post("/api/v1/notifications/", body, format="json")
    assert answer.status_code == 202
    assert answer.json()["status"] == "pending"
