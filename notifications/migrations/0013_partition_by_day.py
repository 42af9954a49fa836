"""Notifications, their contents, deliveries and attempts partitioned by day through their ids (config.partitions).

On a running database: the new non-unique indexes that replace the unique ones build CONCURRENTLY on the plain
tables, each table's CHECK on its ids is validated without blocking writers, then each table is swapped for its
partitioned twin in one short transaction (rename, create, attach the old table as the partition of the ids
below today's: no row is rewritten, no index rebuilt) and its old rows age out with that partition.
Not reversible: a partitioned table can't become a plain one without copying it.
"""

import django.db.models.deletion
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

from config import partitions

TABLES = {
    "notifications_notificationcontent": (),
    "notifications_notification": ("campaign_once_per_user", "one_waiting_send_per_trigger"),
    "notifications_delivery": ("delivery_once_per_device",),
    "notifications_deliveryattempt": (),
}


def partition(apps, schema_editor):
    for table, unique in TABLES.items():
        partitions.partition_by_day(table, drop_indexes=unique)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("devices", "0002_device_is_test_device"),
        ("notifications", "0012_drop_repeated_columns"),
        # Its indexes on these tables are built on the plain tables, then carried onto the partitioned ones.
        ("analytics", "0002_source_indexes"),
    ]

    operations = [
        migrations.RunSQL(partitions.CREATE_DAY_ID_FUNCTION, migrations.RunSQL.noop),
        # The unique indexes' replacements, built while the tables stay writable.
        AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(fields=["notification", "device"], name="delivery_notification"),
        ),
        AddIndexConcurrently(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("source", "campaign")),
                fields=["source_ref"],
                name="notification_campaign",
            ),
        ),
        AddIndexConcurrently(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("status", "scheduled"), models.Q(("trigger_key", ""), _negated=True)),
                fields=["user_id", "trigger_key"],
                name="notification_waiting_trigger",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(partition)],
            state_operations=[
                migrations.RemoveConstraint(model_name="delivery", name="delivery_once_per_device"),
                migrations.RemoveConstraint(model_name="notification", name="one_waiting_send_per_trigger"),
                migrations.RemoveConstraint(model_name="notification", name="campaign_once_per_user"),
                migrations.AlterField(
                    model_name="delivery",
                    name="device",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="deliveries",
                        to="devices.device",
                    ),
                ),
                migrations.AlterField(
                    model_name="delivery",
                    name="notification",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="notifications.notification",
                    ),
                ),
                migrations.AlterField(
                    model_name="deliveryattempt",
                    name="delivery",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempt_log",
                        to="notifications.delivery",
                    ),
                ),
                migrations.AlterField(
                    model_name="faileddelivery",
                    name="delivery",
                    field=models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="failure",
                        to="notifications.delivery",
                    ),
                ),
                migrations.AlterField(
                    model_name="notification",
                    name="target_device",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        help_text="Only this device (a test send to one token); empty: every active device of the user.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="devices.device",
                    ),
                ),
            ],
        ),
    ]
