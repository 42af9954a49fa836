"""`python -m bench.history` (issue 20, item 5): the history it seeds holds together, and its measurements run on it.

At a tiny scale (2,000 deliveries over 3 days) in the test database: every row points at rows that exist and agree
with it (a delivery's device is its notification's shopper's, its attempts end as its status says, each failed
delivery has its record, each event's notification is its shopper's), the days are all covered, and the rollups,
sizes, pages and retention measurements run on it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bench import history
from config import partitions

pytestmark = pytest.mark.django_db(transaction=True)


def scalar(sql: str, params: list | dict | None = None) -> object:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.fixture
def plan() -> history.Plan:
    plan = history.Plan(deliveries=2000, days=3, end=timezone.now() - timedelta(minutes=20))
    history.reset_history()
    history.seed_devices(plan)
    history.seed_history(plan, log=lambda _: None)
    return plan


def test_a_tiny_history_holds_together(plan: history.Plan) -> None:
    deliveries = scalar("SELECT count(*) FROM notifications_delivery")
    assert 2000 <= deliveries <= 2600
    # Each delivery: its notification was sent, to a device of its shopper, with that device's provider.
    agreeing = scalar(
        "SELECT count(*) FROM notifications_delivery AS d "
        "JOIN notifications_notification AS n ON n.id = d.notification_id "
        "JOIN devices_device AS v ON v.id = d.device_id "
        "WHERE n.status = 'sending' AND v.user_id = n.user_id AND v.is_active AND v.provider = d.provider "
        "AND d.updated_at >= n.created_at"
    )
    assert agreeing == deliveries
    # Each notification sent reached every active device of its shopper; none held back has a delivery.
    assert not scalar(
        "SELECT count(*) FROM notifications_notification AS n JOIN devices_device AS v "
        "ON v.user_id = n.user_id AND v.is_active WHERE n.status = 'sending' AND NOT EXISTS "
        "(SELECT 1 FROM notifications_delivery AS d WHERE d.notification_id = n.id AND d.device_id = v.id)"
    )
    assert not scalar(
        "SELECT count(*) FROM notifications_delivery AS d JOIN notifications_notification AS n "
        "ON n.id = d.notification_id WHERE n.status <> 'sending'"
    )
    # Attempts: numbered 1…attempts, in time order, the last one's outcome the delivery's status; a first-try
    # success has none (its delivery is that attempt, notifications.attempts).
    assert not scalar(
        "SELECT count(*) FROM notifications_delivery AS d CROSS JOIN LATERAL (SELECT count(*) AS n, "
        "min(number) AS lo, max(number) AS hi, max(sent_at) AS last_at FROM notifications_deliveryattempt "
        "WHERE delivery_id = d.id) AS a WHERE CASE WHEN d.status = 'delivered' AND d.attempts = 1 THEN a.n <> 0 "
        "ELSE a.n <> d.attempts OR a.lo <> 1 OR a.hi <> d.attempts OR d.updated_at < a.last_at END"
    )
    last_outcomes = {
        (status, outcome)
        for status, outcome in _rows(
            "SELECT d.status, a.outcome FROM notifications_delivery AS d JOIN notifications_deliveryattempt AS a "
            "ON a.delivery_id = d.id AND a.number = d.attempts"
        )
    }
    assert last_outcomes == {
        ("delivered", "delivered"),
        ("token_invalid", "token_invalid"),
        ("failed", "permanent"),
        ("failed", "retry"),
    }
    assert not scalar(
        "SELECT count(*) FROM notifications_delivery AS d JOIN notifications_deliveryattempt AS a "
        "ON a.delivery_id = d.id AND a.number = d.attempts WHERE d.status = 'failed' AND a.outcome = 'retry' "
        "AND a.number < %s",
        [settings.DELIVERY_MAX_ATTEMPTS],
    )
    assert scalar("SELECT count(*) FROM notifications_delivery WHERE status = 'delivered' AND attempts > 1")
    # Exactly the failed deliveries have a failed-delivery record, which says what was sent.
    failed = scalar("SELECT count(*) FROM notifications_delivery WHERE status = 'failed'")
    assert failed
    assert failed == scalar(
        "SELECT count(*) FROM notifications_faileddelivery AS f JOIN notifications_delivery AS d "
        "ON d.id = f.delivery_id JOIN notifications_notification AS n ON n.id = d.notification_id "
        "JOIN notifications_notificationcontent AS c ON c.id = n.content_id "
        "JOIN devices_device AS v ON v.id = d.device_id "
        "WHERE d.status = 'failed' AND f.payload ->> 'title' = c.title AND f.payload ->> 'token' = v.token"
    )
    assert failed == scalar("SELECT count(*) FROM notifications_faileddelivery")
    # A campaign's notifications: of one of its runs, one content per variant, variants only where it has them.
    assert not scalar(
        "SELECT count(*) FROM notifications_notification AS n WHERE n.source = 'campaign' AND NOT EXISTS "
        "(SELECT 1 FROM campaigns_campaignrun AS r WHERE r.id::text = n.source_ref)"
    )
    assert not scalar(
        "SELECT count(*) FROM (SELECT n.source_ref, n.variant FROM notifications_notification AS n "
        "WHERE n.source = 'campaign' GROUP BY 1, 2 HAVING count(DISTINCT n.content_id) > 1) AS x"
    )
    assert scalar("SELECT count(DISTINCT variant) FROM notifications_notification WHERE source = 'campaign'") == 3
    # An event's notification: its shopper's, named in the event's outcome.
    assert scalar("SELECT count(*) FROM notifications_notification WHERE source = 'event'")
    assert not scalar(
        "SELECT count(*) FROM notifications_notification AS n LEFT JOIN events_event AS e "
        "ON e.id::text = n.source_ref AND e.user_id = n.user_id AND e.outcome LIKE '%%#' || n.id || ' %%' "
        "WHERE n.source = 'event' AND e.id IS NULL"
    )
    assert "__REF__" not in str(
        scalar("SELECT string_agg(title || body || data::text, '') FROM notifications_notificationcontent")
    )
    # Spread over the days, within the plan's period.
    per_day = dict(
        _rows(
            "SELECT floor(extract(epoch FROM created_at - %s) / 86400)::int, count(*) "
            "FROM notifications_notification GROUP BY 1",
            [plan.start],
        )
    )
    assert set(per_day) == {0, 1, 2}
    assert min(per_day.values()) > 0.15 * sum(per_day.values())
    last_delivered = scalar("SELECT max(updated_at) FROM notifications_delivery WHERE status = 'delivered'")
    assert last_delivered < plan.end + timedelta(minutes=5)
    # Written in time order, as the engine appends them (what the attempts' BRIN index and retention rely on).
    for table, at in (("notifications_deliveryattempt", "sent_at"),):
        out_of_order = scalar(
            f"SELECT count(*) FROM (SELECT {at} < lag({at}) OVER (ORDER BY id) AS back FROM {table}) AS x WHERE back"
        )
        assert out_of_order == 0, table
    # Tokens as long as the providers' (FCM 163 characters, APNs 64 hex digits); some pushes opened.
    assert scalar("SELECT min(length(token)) FROM devices_device WHERE provider = 'fcm'") == 163
    assert scalar("SELECT max(length(token)) FROM devices_device WHERE provider = 'apns'") == 64
    assert scalar("SELECT count(*) FROM notifications_notification WHERE opened_at IS NOT NULL")


def test_its_measurements_run(plan: history.Plan) -> None:
    rolled = history.roll_up()
    assert rolled["rollup_rows"]
    assert scalar("SELECT sum(count) FROM analytics_hourlyrollup WHERE outcome = 'delivered'") == scalar(
        "SELECT count(*) FROM notifications_delivery WHERE status = 'delivered'"
    )

    before = scalar("SELECT sum(count) FROM analytics_hourlyrollup")
    costs = history.rollup_source_costs()
    assert set(costs["seconds_per_day"]) == {"attempts", "targeted", "held_back", "opens", "conversions"}
    assert scalar("SELECT sum(count) FROM analytics_hourlyrollup") == before  # measured in a rolled-back transaction

    sizes = history.table_sizes()
    assert sizes["bytes_per_delivery"] > 0
    assert sizes["tables"]["notifications_delivery"]["rows"] >= 2000

    pages = history.measure_pages(requests=3, explain_over_ms=0)
    assert len(pages) == len(history.pages())
    for name, page in pages.items():
        assert page["statuses"] == [200], name
        assert page["requests"] == 3 and page["p95_ms"] > 0, name
        assert page["explain"], name
    assert "Execution Time" in pages["notification log, search a user id"]["explain"]

    cutoff_rows = scalar("SELECT count(*) FROM notifications_notification WHERE created_at < %s", [plan.start])
    assert cutoff_rows == 0
    retention = history.retention_day()
    day = date.fromisoformat(retention["day"])
    assert retention["dropped_rows"]["notifications_delivery"] > 0
    assert retention["concurrent_inserts"] > 0  # the writer kept writing through the drop
    assert day == plan.start.date()
    for table in history.PARTITIONED_TABLES:
        assert not scalar(f"SELECT count(*) FROM {table} WHERE id < %s", [partitions.first_id(day + timedelta(days=1))])
    assert not scalar("SELECT count(*) FROM notifications_notification WHERE user_id = 'retention-check'")


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
