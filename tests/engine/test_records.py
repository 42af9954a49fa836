"""A notification's columns are written once, in notifications.records: the SQL that writes and reads them is
derived from those dataclasses, and these tests fail when the model and the dataclasses disagree."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from devices.models import Device
from notifications.delivery import _lock_pending
from notifications.models import Notification
from notifications.records import CONTENT_COLUMNS, ITEM_COLUMNS, STATE_COLUMNS, Content, NewNotification, Settled
from notifications.store import INSERT_COLUMNS, store_notifications

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


def test_the_derived_array_types_match_the_database_columns():
    from notifications.records import array_type

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, udt_name FROM information_schema.columns WHERE table_name = %s",
            [Notification._meta.db_table],
        )
        database = dict(cursor.fetchall())
    for column in INSERT_COLUMNS[1:]:
        expected = "timestamptz" if database[column] == "timestamptz" else COMPATIBLE[database[column]]
        assert array_type(column) == expected, f"{column}: {database[column]} column written as {array_type(column)}[]"


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
    )
    assert {f for f in ITEM_COLUMNS if f not in CONTENT_COLUMNS} == {
        "user_id",
        "source",
        "source_ref",
        "send_at",
        "trigger_key",
        "variant",
        "target_device_id",
    }
    assert STATE_COLUMNS == ["status", "policy", "status_reason"]
    with transaction.atomic():
        [stored] = store_notifications([item], settled=[Settled("pending", "", "why")], ids=None)
        [pending] = _lock_pending([stored.pk])
    # JSON has no tuples: the caps come back as lists, which is all the policy reads of them.
    assert pending.item == replace(item, content=replace(content, frequency_caps=[[86400, 2]]))
    assert Notification.objects.get(pk=stored.pk).status_reason == "why"
