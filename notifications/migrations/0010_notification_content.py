"""Compact campaign rows (issue 20, item 2), first step: the content table, each notification's reference to its
content (nullable until 0011 has filled it in), and the delivery's indexes that change (the token's and device's go,
created_at's goes with the column in 0012, updated_at gets a BRIN)."""

import django.contrib.postgres.indexes
import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0001_initial"),
        ("notifications", "0009_campaign_rows_skip_source_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="NotificationContent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
                ("body", models.CharField(max_length=1000)),
                ("image", models.URLField(blank=True, default="", max_length=1000)),
                ("deep_link", models.CharField(blank=True, default="", max_length=1000)),
                ("data", models.JSONField(blank=True, default=dict)),
                (
                    "translations",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="Title, body, image and deep link per locale; a device's locale picks one.",
                    ),
                ),
                (
                    "priority",
                    models.CharField(choices=[("high", "High"), ("normal", "Normal")], default="high", max_length=8),
                ),
                ("ttl_seconds", models.PositiveIntegerField(default=86400)),
                ("collapse_key", models.CharField(blank=True, default="", max_length=64)),
                (
                    "dedup_key",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="Sent at most once per user within dedup_seconds.",
                        max_length=200,
                    ),
                ),
                ("dedup_seconds", models.PositiveIntegerField(default=0)),
                (
                    "frequency_caps",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="Stricter caps for this send, e.g. a campaign's: [[seconds, max], …].",
                    ),
                ),
                ("template_key", models.CharField(blank=True, default="", max_length=64)),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
            ],
            options={"verbose_name": "notification content"},
        ),
        migrations.AddField(
            model_name="notification",
            name="content",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="notifications.notificationcontent",
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="ttl_left_seconds",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="What was left of its content's TTL when shopper protection deferred it.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="provider_message_id",
            field=models.CharField(
                blank=True,
                default="",
                help_text="What identifies the message at the provider, when the delivery's id doesn't "
                "(see provider_reference).",
                max_length=255,
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="device",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="deliveries",
                to="devices.device",
            ),
        ),
        migrations.RemoveIndex(model_name="delivery", name="delivery_token_prefix"),
        migrations.RemoveIndex(model_name="delivery", name="delivery_created"),
        migrations.AddIndex(
            model_name="delivery",
            index=django.contrib.postgres.indexes.BrinIndex(
                autosummarize=True,
                fields=["updated_at"],
                name="delivery_updated_brin",
                opclasses=["timestamptz_minmax_multi_ops"],
                pages_per_range=32,
            ),
        ),
    ]
