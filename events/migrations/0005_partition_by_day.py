"""Events partitioned by day through their ids (config.partitions); their idempotency keys in a table of their own.

The keys of the events already stored are copied first (one set-based statement; on a running database events
keep arriving under the old unique constraint meanwhile, and the copy is repeated after the swap for them).
"""

import django.contrib.postgres.indexes
import django.db.models.functions.datetime
from django.db import migrations, models

from config import partitions

COPY_KEYS = """
INSERT INTO events_eventkey (producer, idempotency_key, event_id, received_at)
SELECT producer, idempotency_key, id, received_at FROM events_event
ON CONFLICT (producer, idempotency_key) DO NOTHING
"""


def partition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(COPY_KEYS)
    partitions.partition_by_day("events_event", drop_indexes=("event_once_per_producer",))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(COPY_KEYS)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0004_event_attributes"),
        ("notifications", "0013_partition_by_day"),  # creates pushcart_day_id
        ("analytics", "0002_source_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "producer", "idempotency_key", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("producer", models.CharField(max_length=64)),
                ("idempotency_key", models.CharField(max_length=255)),
                ("event_id", models.BigIntegerField()),
                ("received_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
            ],
            options={
                "indexes": [
                    django.contrib.postgres.indexes.BrinIndex(fields=["received_at"], name="event_key_received")
                ],
            },
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(partition)],
            state_operations=[migrations.RemoveConstraint(model_name="event", name="event_once_per_producer")],
        ),
    ]
