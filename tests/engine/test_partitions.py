"""The big tables partitioned by day through their ids: what a day's partition holds, making and dropping days,
and converting a table that holds rows already."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from config import partitions
from events import retention as event_retention
from events.ingest import IncomingEvent, ingest_events
from events.models import Event, EventKey
from notifications import retention
from notifications.delivery import process_notifications
from notifications.models import Delivery, DeliveryStatus, FailedDelivery, Notification
from tests.rows import notification_row

from .conftest import run_until_settled

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = partitions.today()


def _notification(pk: int, user_id: str = "alice") -> Notification:
    return notification_row(
        pk=pk, user_id=user_id, title="t", body="b", category="order_updates", source="api", status="sending"
    )


def _table_of(pk: int, table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_a_sent_notification_its_deliveries_and_attempts_go_to_todays_partitions(engine, shopper, service_client):
    shopper("alice", "ok-android-alice", "retry-ios-alice")
    answer = service_client("notifications:write").post(
        "/api/v1/notifications/",
        {"user_id": "alice", "title": "Hi", "body": "There", "category": "order_updates"},
        format="json",
    )
    assert answer.status_code == 202, answer.content
    run_until_settled()
    [pk] = answer.json()["notification_ids"]
    assert partitions.day_of(pk) == TODAY
    assert _table_of(pk, "notifications_notification") == partitions.partition_name("notifications_notification", TODAY)
    for delivery in Delivery.objects.filter(notification_id=pk):
        assert _table_of(delivery.pk, "notifications_delivery") == f"notifications_delivery_d{TODAY:%Y%m%d}"
    assert Notification.objects.get(pk=pk).deliveries.count() == 2


def test_a_notification_of_an_earlier_day_is_sent_today(engine, shopper):
    """A send that waited past midnight: its row is in yesterday's partition, its deliveries in today's."""
    shopper("bob", "retry-android-bob")
    yesterday = TODAY - timedelta(days=1)
    partitions.create_partitions("notifications_notification", yesterday, yesterday)
    pk = partitions.first_id(yesterday) + 42
    notification_row(
        pk=pk, user_id="bob", title="t", body="b", category="order_updates", source="api", status="pending"
    )
    process_notifications([pk])
    run_until_settled()
    [delivery] = Delivery.objects.filter(notification_id=pk)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert partitions.day_of(delivery.pk) == TODAY


def test_beat_makes_the_next_days_and_drops_the_days_past_retention(settings):
    settings.DELIVERY_RETENTION_DAYS = 30
    settings.NOTIFICATION_RETENTION_DAYS = 90
    old, kept = TODAY - timedelta(days=31), TODAY - timedelta(days=30)
    for table in ("notifications_notification", "notifications_delivery"):
        partitions.create_partitions(table, old, kept)
    notification = _notification(partitions.first_id(old) + 1)
    Delivery.objects.create(pk=partitions.first_id(old) + 1, notification=notification, device_id=1, provider="fcm")
    kept_row = _notification(partitions.first_id(kept) + 1, "carol")

    done = retention.maintain_partitions()

    assert f"notifications_delivery_d{old:%Y%m%d}" in done["dropped"]
    assert f"notifications_delivery_d{kept:%Y%m%d}" not in done["dropped"]
    assert not any(name.startswith("notifications_notification") for name in done["dropped"])  # kept 90 days
    assert Notification.objects.filter(pk__in=[notification.pk, kept_row.pk]).count() == 2
    assert partitions.days_ahead("notifications_delivery") == settings.PARTITION_DAYS_AHEAD
    assert retention.maintain_partitions()["created"] == []  # nothing left to make: a second run is a no-op

    settings.NOTIFICATION_RETENTION_DAYS = 30
    retention.maintain_partitions()
    assert not Notification.objects.filter(pk=notification.pk).exists()
    assert Notification.objects.filter(pk=kept_row.pk).exists()


def test_dropping_refuses_to_run_inside_a_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        partitions.drop_partitions_before("notifications_delivery", TODAY)


def test_old_failed_delivery_records_are_deleted_after_their_own_retention(settings):
    settings.FAILED_DELIVERY_RETENTION_DAYS = 90
    for pk, age in ((1, 91), (2, 89)):
        record = FailedDelivery.objects.create(delivery_id=pk, reason="gone", payload={})
        FailedDelivery.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(days=age))
    assert retention.forget_old_failed_deliveries() == 1
    assert list(FailedDelivery.objects.values_list("delivery_id", flat=True)) == [2]


def test_an_event_key_is_stored_once_across_days_and_forgotten_with_its_retention(settings):
    settings.EVENT_RETENTION_DAYS = 14
    [first] = ingest_events([IncomingEvent("cart_updated", "alice", "k-1")], producer="key:abc")
    # The same key again, and twice in one batch: one event, every answer naming it.
    again = ingest_events(
        [IncomingEvent("cart_updated", "alice", "k-1"), IncomingEvent("cart_updated", "alice", "k-2")] * 2,
        producer="key:abc",
    )
    assert [a.duplicate for a in again] == [True, False, True, True]
    assert again[0].id == first.id and again[1].id == again[3].id
    assert Event.objects.count() == 2 and EventKey.objects.count() == 2
    assert partitions.day_of(first.id) == TODAY
    # Another producer's same key is another event.
    [other] = ingest_events([IncomingEvent("cart_updated", "alice", "k-1")], producer="key:def")
    assert not other.duplicate

    EventKey.objects.filter(idempotency_key="k-1", producer="key:abc").update(
        received_at=timezone.now() - timedelta(days=15)
    )
    assert event_retention.forget_old_keys() == 1
    [late] = ingest_events([IncomingEvent("cart_updated", "alice", "k-1")], producer="key:abc")
    assert not late.duplicate  # a retry later than retention is a new event, as documented


def test_a_table_with_rows_is_converted_in_place_without_rebuilding_its_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE conversion_check (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "user_id varchar(20) NOT NULL, n integer NOT NULL CHECK (n >= 0))"
        )
        cursor.execute("CREATE INDEX conversion_check_user ON conversion_check (user_id)")
        cursor.execute("CREATE UNIQUE INDEX conversion_check_once ON conversion_check (user_id, n)")
        cursor.execute("INSERT INTO conversion_check (user_id, n) SELECT 'u' || g, g FROM generate_series(1, 1000) g")
        cursor.execute("SELECT 'conversion_check_user'::regclass::oid, 'conversion_check_pkey'::regclass::oid")
        user_index, primary_key = cursor.fetchone()
    try:
        partitions.partition_by_day("conversion_check", drop_indexes=("conversion_check_once",), days_ahead=2)
        with connection.cursor() as cursor:
            cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'conversion_check'")
            assert cursor.fetchone()[0] == "p"
            cursor.execute("SELECT count(*), max(id) FROM conversion_check_before")
            assert cursor.fetchone() == (1000, 1000)  # the rows stayed where they were
            # The old table's indexes became the partitions of the new ones: the same index, not a rebuilt one.
            cursor.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'conversion_check_user'::regclass"
            )
            attached = {name for (name,) in cursor.fetchall()}
            cursor.execute("SELECT %s::oid::regclass::text, %s::oid::regclass::text", [user_index, primary_key])
            assert set(cursor.fetchone()) <= attached | {"conversion_check_pkey_before"}
            cursor.execute(
                "INSERT INTO conversion_check (user_id, n) VALUES ('new', 1) RETURNING id, tableoid::regclass"
            )
            pk, table = cursor.fetchone()
            assert partitions.day_of(pk) == TODAY and table == f"conversion_check_d{TODAY:%Y%m%d}"
            cursor.execute("INSERT INTO conversion_check (user_id, n) VALUES ('u1', 1)")  # the unique index is gone
            with pytest.raises(Exception, match="check"):
                cursor.execute("INSERT INTO conversion_check (user_id, n) VALUES ('neg', -1)")  # its checks are not
        assert partitions.days_ahead("conversion_check") == 2
        assert next(p.name for p in partitions.partitions("conversion_check")) == "conversion_check_before"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS conversion_check")
