"""Compact campaign rows, second step, on a database with history: each notification's content moved into a content
row (one per distinct content within a batch of ids: a campaign's shoppers share theirs), and the attempt rows of
first-try successes deleted (the delivery row tells them now: notifications.attempts; kept, they would be read
twice). Batches of ids, each statement its own transaction (the migration is not atomic): it can be stopped and run
again, and takes no lock longer than a batch. The engine may already be writing new rows meanwhile."""

from django.db import migrations

BATCH = 20_000
N, C = "notifications_notification", "notifications_notificationcontent"
D, A = "notifications_delivery", "notifications_deliveryattempt"
CONTENT = (
    "title, body, image, deep_link, data, translations, priority, ttl_seconds, collapse_key, dedup_key, "
    "dedup_seconds, frequency_caps, template_key"
)
SAME_CONTENT = " AND ".join(f"n.{name} = w.{name}" for name in CONTENT.split(", "))

FILL_CONTENTS = f"""
WITH said AS (
    SELECT {CONTENT}, min(created_at) FROM {N}
    WHERE id >= %s AND id < %s AND content_id IS NULL GROUP BY {CONTENT}
), written AS (
    INSERT INTO {C} (id, {CONTENT}, created_at)
    SELECT nextval(pg_get_serial_sequence('{C}', 'id')), * FROM said
    RETURNING id, {CONTENT}
)
UPDATE {N} AS n SET content_id = w.id FROM written AS w
WHERE n.id >= %s AND n.id < %s AND n.content_id IS NULL AND {SAME_CONTENT}
"""
# A delivered delivery's updated_at is its delivered_at from now on (the engine wrote both alike; made sure).
DELIVERED_AT = f"""
UPDATE {D} SET updated_at = delivered_at
WHERE id >= %s AND id < %s AND status = 'delivered' AND updated_at IS DISTINCT FROM delivered_at
"""
# Exactly the attempts the engine no longer writes (notifications.attempts.first_try_success).
DELETE_FIRST_TRY_SUCCESSES = f"""
DELETE FROM {A} AS a USING {D} AS d
WHERE d.id >= %s AND d.id < %s AND d.status = 'delivered' AND d.attempts = 1
  AND a.delivery_id = d.id AND a.outcome = 'delivered'
"""


def _in_batches(cursor, table: str, sql: str, ranges: int) -> None:
    """`sql` for each BATCH of `table`'s ids (its `ranges` pairs of placeholders: from, below)."""
    cursor.execute(f"SELECT min(id), max(id) FROM {table}")
    low, high = cursor.fetchone()
    if low is None:
        return
    for start in range(low, high + 1, BATCH):
        cursor.execute(sql, [start, start + BATCH] * ranges)


def forwards(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        _in_batches(cursor, N, FILL_CONTENTS, ranges=2)
        _in_batches(cursor, D, DELETE_FIRST_TRY_SUCCESSES, ranges=1)
        _in_batches(cursor, D, DELIVERED_AT, ranges=1)


def backwards(apps, schema_editor) -> None:
    """The columns 0012 dropped are back (empty): fill them from the contents, devices and deliveries."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {N} AS n SET {', '.join(f'{c} = w.{c}' for c in CONTENT.split(', ') if c != 'ttl_seconds')}, "
            f"ttl_seconds = coalesce(n.ttl_left_seconds, w.ttl_seconds) FROM {C} AS w WHERE w.id = n.content_id"
        )
        cursor.execute(f"UPDATE {D} AS d SET token = v.token FROM devices_device AS v WHERE v.id = d.device_id")
        cursor.execute(f"UPDATE {D} SET delivered_at = updated_at WHERE status = 'delivered'")
        cursor.execute(
            f"INSERT INTO {A} (delivery_id, number, sent_at, outcome, provider_code, provider_text, latency_ms) "
            f"SELECT id, 1, updated_at, 'delivered', last_error_code, last_error_text, 0 FROM {D} "
            "WHERE status = 'delivered' AND attempts = 1"
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("notifications", "0010_notification_content")]

    operations = [migrations.RunPython(forwards, backwards)]
