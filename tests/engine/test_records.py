"""A notification's columns, and its content's, are written once, in notifications.records: the SQL that writes and
reads them is derived from those dataclasses, and these tests fail when the models and the dataclasses disagree."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from devices.models import Device
from notifications.delivery import _lock_pending
from notifications.models import Notification, NotificationContent
from notifications.records import (
    CONTENT_COLUMNS,
    ITEM_COLUMNS,
    ON_NOTIFICATION,
    STATE_COLUMNS,
    Content,
    NewNotification,
    Settled,
    array_type,
)
from notifications.store import CONTENT_INSERT_COLUMNS, INSERT_COLUMNS, store_notifications

pytestmark = pytest.mark.django_db

# Columns the database fills in itself, or that later steps write: never part of a new notification.
WRITTEN_LATER = {"created_at", "updated_at", "opened_at"}
# Array types the derived SQL may use for each PostgreSQL column type.
COMPATIBLE = {"varchar": "text", "text": "text", "int4": "int", "int8": "bigint", "jsonb": "jsonb"}


def test_every_column_of_the_model_is_written_by_the_dataclasses_or_by_a_later_step():
    columns = {f.column for f in Notification._meta.concrete_fields}
    assert set(INSERT_COLUMNS) | WRITTEN_LATER == columns, (
        "notifications.records and the Notification model disagree: a field added to one must be added to the "
        "other (or, if the database or a later step writes it, to WRITTEN_LATER here)"
    )
    assert len(INSERT_COLUMNS) == len(set(INSERT_COLUMNS))


def test_every_column_of_the_content_model_is_a_field_of_content_and_every_field_is_stored_once():
    columns = {f.column for f in NotificationContent._meta.concrete_fields}
    assert set(CONTENT_INSERT_COLUMNS) | {"created_at"} == columns, (
        "notifications.records' Content and the NotificationContent model disagree: a field added to one must be "
        "added to the other (or to ON_NOTIFICATION, and to the Notification model)"
    )
    fields = [f.name for f in dataclasses.fields(Content)]
    assert sorted([*CONTENT_COLUMNS, *ON_NOTIFICATION]) == sorted(fields)
    assert set(ON_NOTIFICATION) <= set(INSERT_COLUMNS) and not set(CONTENT_COLUMNS) & set(INSERT_COLUMNS)


@pytest.mark.parametrize(
    ("model", "columns"), [(Notification, INSERT_COLUMNS), (NotificationContent, CONTENT_INSERT_COLUMNS)]
)
def test_the_derived_array_types_match_the_database_columns(model, columns):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, udt_name FROM information_schema.columns WHERE table_name = %s",
            [model._meta.db_table],
        )
        database = dict(cursor.fetchall())
    for column in columns[1:]:
        expected = "timestamptz" if database[column] == "timestamptz" else COMPATIBLE[database[column]]
        written = array_type(column, model)
        assert written == expected, f"{column}: {database[column]} column written as {written}[]"


def test_a_notification_with_every_field_set_reads_back_as_it_was_written():
    device = Device.objects.create(user_id="ana", platform="android", provider="fcm", token="ok-ana")
    content = Content(
        title="T",
        body="B",
        category="promotions",
        image="https://img.example/x.png",
        deep_link="shop://x",
        data={"k": "v"},
        priority="normal",
        ttl_seconds=600,
        collapse_key="ck",
        translations={"de": {"title": "DT", "body": "DB"}},
        template_key="promo",
        dedup_key="dk",
        dedup_seconds=60,
        frequency_caps=((86400, 2),),
    )
    item = NewNotification(
        "ana",
        content,
        "api",
        source_ref="ref-1",
        send_at=timezone.now() - timedelta(minutes=1),
        trigger_key="tk",
        variant="B",
        target_device_id=device.pk,
        ttl_left_seconds=300,
    )
    assert {f for f in ITEM_COLUMNS if f not in ON_NOTIFICATION} == {
        "user_id",
        "content_id",
        "source",
        "source_ref",
        "send_at",
        "trigger_key",
        "variant",
        "target_device_id",
        "ttl_left_seconds",
    }
    assert STATE_COLUMNS == ["status", "policy", "status_reason"]
    with transaction.atomic():
        [stored] = store_notifications([item], settled=[Settled("pending", "", "why")], ids=None)
        [pending] = _lock_pending([stored.pk])
    # JSON has no tuples: the caps come back as lists, which is all the policy reads of them.
    assert pending.item == replace(item, content=replace(content, frequency_caps=[[86400, 2]]))
    assert pending.ttl_seconds == 300
    notification = Notification.objects.select_related("content").get(pk=stored.pk)
    assert notification.status_reason == "why"
    assert (notification.content.title, notification.ttl_seconds) == ("T", 300)


def test_a_batch_writes_one_content_row_per_distinct_content():
    shared = Content(title="Sale", body="20% off", category="promotions")
    own = Content(title="Your order", body="is late", category="order_updates")
    items = [NewNotification(f"u{i}", shared, "campaign", source_ref="7") for i in range(3)]
    items.append(NewNotification("u9", own, "api"))
    with transaction.atomic():
        stored = store_notifications(items)
    contents = dict(Notification.objects.filter(pk__in=[s.pk for s in stored]).values_list("user_id", "content_id"))
    assert contents["u0"] == contents["u1"] == contents["u2"] != contents["u9"]
    assert NotificationContent.objects.count() == 2
