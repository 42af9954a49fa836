"""Input that used to get a 500 gets a 400 naming the field (or the admin form's report), and nothing is stored.

Before the fix: 3,000 nested `[` raised RecursionError in the JSON parser (any shopper could send it);
`\\u0000` and lone surrogates (`\\ud800`) in event data, attributes or a notification's data keys reached
PostgreSQL, which refuses NUL in text and jsonb (DataError); a 300-character user id in the path of
`PUT /users/<id>/attributes/` overflowed the column, and `%00` in any path parameter reached a WHERE clause;
an admin CSV upload with a 200 KB field raised csv.Error, and one with a NUL stored nothing but a 500.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import roles
from audience.models import Segment, SegmentMember, ShopperProfile
from config.parsers import MAX_DEPTH
from events.api.serializers import EventSerializer
from events.models import Event
from notifications.models import Notification
from tests.staff import staff

pytestmark = pytest.mark.django_db

ORDER = '{"type": "order_status_changed", "user_id": "u1", "idempotency_key": "k%d", "data": %s}'


def _post_json(client, url: str, text: str, method: str = "post"):  # type: ignore[no-untyped-def]
    """Send `text` as it is: JSON escapes such as \\u0000 reach the server's parser unchanged."""
    return getattr(client, method)(url, text.encode(), content_type="application/json")


def _refused(answer, field: str) -> dict:  # type: ignore[no-untyped-def]
    assert answer.status_code == 400, answer.content
    body = json.loads(answer.content)  # a JSON answer, even when the input held a lone surrogate
    assert field in body["errors"], body
    assert body["code"] == "invalid"
    return body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 3000 + "]" * 3000, id="3000 nested arrays"),
        pytest.param('{"events": ' + "[" * 3000 + "]" * 3000 + "}", id="3000 nested in a field"),
        pytest.param(ORDER % (0, '{"a": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}"), id="past MAX_DEPTH"),
    ],
)
def test_deeply_nested_json_is_a_400_parse_error(service_client, app_client, body):
    for client, url in ((service_client("events:write"), "/api/v1/events/"), (app_client("u1"), "/api/v1/devices/")):
        answer = _post_json(client, url, body)
        assert answer.status_code == 400, answer.content
        assert answer.json()["code"] == "parse_error"
        assert "nested deeper" in answer.json()["detail"]
    assert not Event.objects.exists()


def test_nesting_within_the_limit_is_still_accepted(service_client):
    nested = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)  # the body and `data` are two levels already
    answer = _post_json(service_client("events:write"), "/api/v1/events/", ORDER % (0, '{"a": ' + nested + "}"))
    assert answer.status_code == 202, answer.content


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ('{"note": "a\\u0000b"}', "data.note"),
        ('{"note": "\\ud800"}', "data.note"),
        ('{"a\\u0000": 1}', "data"),
        ('{"\\ud800": 1}', "data"),
        ('{"items": [{"name": "\\udfff"}]}', "data.items.0.name"),
        ('{"price": 1e999}', "data.price"),
    ],
)
def test_unstorable_text_in_event_data_is_refused_naming_the_field(service_client, data, field):
    client = service_client("events:write")
    _refused(_post_json(client, "/api/v1/events/", ORDER % (0, data)), field)
    # In a batch, the bad event is named by its index and the good one is not stored either.
    batch = '{"events": [' + ORDER % (1, "{}") + ", " + ORDER % (2, data) + "]}"
    _refused(_post_json(client, "/api/v1/events/", batch), f"events.1.{field}")
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("attributes", "field"),
    [('{"city": "Ber\\u0000lin"}', "attributes.city"), ('{"city": "\\ud800"}', "attributes.city")],
)
def test_unstorable_text_in_attributes_is_refused(service_client, attributes, field):
    answer = _post_json(
        service_client("attributes:write"), "/api/v1/users/u1/attributes/", f'{{"attributes": {attributes}}}', "put"
    )
    _refused(answer, field)
    event = ORDER % (0, "{}")
    _refused(
        _post_json(service_client("events:write"), "/api/v1/events/", event[:-1] + f', "attributes": {attributes}}}'),
        field,
    )
    assert not ShopperProfile.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ('{"\\u0000": "x"}', "data"),
        ('{"\\ud800": "x"}', "data"),
        ('{"order_id": "\\u0000"}', "data.order_id"),
        ('{"order_id": "\\ud800"}', "data.order_id"),
    ],
)
def test_unstorable_text_in_a_notifications_data_is_refused(service_client, data, field):
    body = '{"user_id": "u1", "title": "t", "body": "b", "category": "order_updates", "data": ' + data + "}"
    _refused(_post_json(service_client("notifications:write"), "/api/v1/notifications/", body), field)
    assert not Notification.objects.exists()


def test_the_serializers_refuse_it_too_for_callers_outside_http():
    """The Kafka consumer validates with EventSerializer without going through the API's parser."""
    deep: list = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    for data, where in (({"note": "a\x00b"}, "note"), ({"\ud800": 1}, "A key"), ({"a": deep}, "deeper")):
        serializer = EventSerializer(data={"type": "t", "user_id": "u1", "idempotency_key": "k", "data": data})
        assert not serializer.is_valid()
        assert where in str(serializer.errors["data"])


def test_path_user_ids_too_long_or_with_nul_are_a_400_naming_them(service_client, app_client):
    attributes = service_client("attributes:write")
    long_id = "u" * 300
    body = _refused(
        attributes.put(f"/api/v1/users/{long_id}/attributes/", {"attributes": {}}, format="json"), "user_id"
    )
    assert "at most 255" in body["errors"]["user_id"][0]
    _refused(attributes.put("/api/v1/users/a%00b/attributes/", {"attributes": {}}, format="json"), "user_id")
    assert not ShopperProfile.objects.exists()

    devices = service_client("devices:read")
    _refused(devices.get("/api/v1/users/a%00b/devices/"), "user_id")
    _refused(devices.get(f"/api/v1/users/{long_id}/devices/"), "user_id")

    shopper = app_client("u1")
    _refused(shopper.patch("/api/v1/devices/tok%00en/", {"locale": "en-GB"}, format="json"), "token")
    _refused(shopper.delete("/api/v1/devices/tok%00en/"), "token")
    _refused(shopper.get("/api/v1/users/u1%00/preferences/"), "user_id")


@pytest.fixture
def upload(client):  # type: ignore[no-untyped-def]
    client.force_login(staff(roles.MARKETERS))
    segment = Segment.objects.create(name="From a file")

    def send(content: bytes, **form: str):  # type: ignore[no-untyped-def]
        return client.post(
            f"/admin/audience/segment/{segment.pk}/upload/", {"file": SimpleUploadedFile("ids.csv", content), **form}
        )

    return send


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        pytest.param(b"user_id\nanna\n" + b"x" * 200_000 + b"\nben\n", 3, "not valid CSV", id="a 200 KB field"),
        pytest.param(b'user_id\nanna\n"ben\nchloe\n', 4, "not valid CSV", id="an unbalanced quote"),
        pytest.param(b"user_id\nanna\nb\x00en\n", 3, "control character", id="a NUL"),
    ],
)
def test_a_hostile_csv_upload_is_reported_not_a_500(upload, content, line, reason):
    answer = upload(content)
    assert answer.status_code == 200
    errors = answer.context_data["errors"]
    assert [number for number, _ in errors] == [line], errors
    assert reason in errors[0][1]
    assert not SegmentMember.objects.exists()
    # Importing the good rows takes only those: the bad one is never stored.
    confirmed = upload(content, import_good_rows="on")
    assert confirmed.status_code == 302
    assert list(SegmentMember.objects.values_list("user_id", flat=True)) == ["anna"]
