"""POST /api/v1/events/: stored durably, once per key holder and idempotency key; a bad batch is refused whole."""

from __future__ import annotations

import pytest

from events.models import Event, EventStatus

pytestmark = pytest.mark.django_db

CANCELLED = {
    "type": "order_status_changed",
    "user_id": "shopper-1",
    "idempotency_key": "order-1042-status-7",
    "occurred_at": "2026-11-26T10:15:00Z",
    "data": {"order_id": "1042", "status": "cancelled"},
}


def event(n: int, **fields: object) -> dict:
    return {"type": "cart_updated", "user_id": f"u{n}", "idempotency_key": f"k{n}", "data": {"cart_id": n}, **fields}


def test_one_event_is_stored_and_answered_with_its_id(post_events) -> None:
    answer = post_events(CANCELLED)
    assert answer.status_code == 202, answer.content
    [accepted] = answer.json()["events"]
    stored = Event.objects.get(pk=accepted["id"])
    assert (stored.type, stored.user_id, stored.data, stored.status) == (
        "order_status_changed",
        "shopper-1",
        {"order_id": "1042", "status": "cancelled"},
        EventStatus.RECEIVED,
    )
    assert stored.occurred_at.isoformat() == "2026-11-26T10:15:00+00:00"
    assert stored.producer.startswith("key:")
    assert answer.json() | {"events": None} == {"accepted": 1, "duplicates": 0, "events": None}


def test_a_batch_is_stored_in_order_and_repeats_are_duplicates(post_events) -> None:
    first = post_events([event(i) for i in range(3)])
    assert first.status_code == 202
    again = post_events([event(1), event(3), event(3)])
    assert again.status_code == 202
    body = again.json()
    assert (body["accepted"], body["duplicates"]) == (1, 2)
    ids = {e["idempotency_key"]: e["id"] for e in first.json()["events"]}
    assert body["events"][0] == {"id": ids["k1"], "idempotency_key": "k1", "duplicate": True}
    assert body["events"][1]["duplicate"] is False
    assert body["events"][2] == {"id": body["events"][1]["id"], "idempotency_key": "k3", "duplicate": True}
    assert Event.objects.count() == 4


def test_the_same_key_from_another_producer_is_a_different_event(post_events, service_client) -> None:
    post_events(CANCELLED)
    other = service_client("events:write").post("/api/v1/events/", CANCELLED, format="json")
    assert other.json()["accepted"] == 1
    assert Event.objects.count() == 2


def test_a_batch_with_bad_events_is_refused_whole_and_names_each_bad_field(post_events) -> None:
    batch = [
        event(0),
        {"user_id": "u1", "idempotency_key": "k1"},
        event(2, data=["not", "an", "object"]),
        event(3, occurred_at="yesterday"),
        event(4, user_id=""),
        event(5, colour="red"),
        event(6, type="Order Cancelled"),
    ]
    answer = post_events(batch)
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert set(errors) == {
        "events.1.type",
        "events.2.data",
        "events.3.occurred_at",
        "events.4.user_id",
        "events.5.colour",
        "events.6.type",
    }
    assert errors["events.2.data"] == ["Must be a JSON object."]
    assert Event.objects.count() == 0  # not even the good ones


def test_limits_on_batch_size_and_data_size(post_events, settings) -> None:
    too_many = post_events([event(i) for i in range(settings.EVENT_BATCH_MAX + 1)])
    assert too_many.status_code == 400
    assert "events" in too_many.json()["errors"]
    big = post_events(event(1, data={"blob": "x" * settings.EVENT_DATA_MAX_BYTES}))
    assert big.status_code == 400
    assert "bytes encoded" in big.json()["errors"]["data"][0]
    assert post_events([]).json()["errors"]["events"]
    assert Event.objects.count() == 0


def test_an_event_without_type_or_user_is_refused(post_events) -> None:
    answer = post_events({"idempotency_key": "k", "data": {}})
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"type", "user_id"}


def test_a_key_without_the_scope_or_no_key_is_refused(service_client, client) -> None:
    assert service_client("notifications:write").post("/api/v1/events/", CANCELLED, format="json").status_code == 403
    assert client.post("/api/v1/events/", CANCELLED, content_type="application/json").status_code == 401
    assert Event.objects.count() == 0
