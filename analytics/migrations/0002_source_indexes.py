"""Indexes the rollup job reads its sources by: each run takes the facts of the last minute by their timestamp.

They live here, not in the engine's models, because only analytics reads by them; each was chosen for what it
costs the engine's writes:
- attempts by sent_at: BRIN. Attempts are only ever inserted, in about sent_at order, so a block range index
  (a few pages for the whole table) finds a minute's attempts; a B-tree would add a write per attempt.
- held-back notifications by updated_at: partial, only the rows in a final held-back state get an entry
  (the engine already indexes `status` in partial indexes, so this costs no HOT update that was possible).
- opened notifications by opened_at: partial, only the opened ones get an entry. Marking a push opened is no
  longer a HOT update (a new index entry per open, on the open API's path; sending is unaffected).
Notifications by created_at and events by received_at are already indexed.

Built CONCURRENTLY (so non-atomic): on a running database the tables stay writable while they build.
"""

from django.db import migrations

INDEXES = [
    (
        "analytics_attempt_sent_brin",
        "notifications_deliveryattempt USING brin (sent_at) WITH (pages_per_range = 32, autosummarize = on)",
    ),
    (
        "analytics_notification_held_back",
        "notifications_notification (updated_at) WHERE status IN ('suppressed', 'no_device')",
    ),
    (
        "analytics_notification_opened",
        "notifications_notification (opened_at) WHERE opened_at IS NOT NULL",
    ),
]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0001_initial"),
        ("notifications", "0009_campaign_rows_skip_source_index"),
        ("events", "0004_event_attributes"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}",
            f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
        )
        for name, definition in INDEXES
    ]
