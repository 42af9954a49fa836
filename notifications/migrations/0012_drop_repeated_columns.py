"""Compact campaign rows, last step: every notification has its content (0011), so the reference is required and
the columns it replaced go, with the delivery's token (its device's, which never changes) delivered_at (its
updated_at once delivered, 0011 made sure) and created_at (within a batch's time of its first attempt, or of its
updated_at until it is tried). Dropping a column is a
change of the catalogue only: rows written before keep their bytes until rewritten (or their partition dropped)."""

import django.db.models.deletion
from django.db import migrations, models

MOVED = [
    "title",
    "body",
    "image",
    "deep_link",
    "data",
    "translations",
    "priority",
    "ttl_seconds",
    "collapse_key",
    "dedup_key",
    "dedup_seconds",
    "frequency_caps",
    "template_key",
]


class Migration(migrations.Migration):
    dependencies = [("notifications", "0011_fill_contents")]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="content",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="notifications.notificationcontent",
            ),
        ),
        # Defaults first, so that going back re-adds these required columns to a table with rows (0011 then fills them).
        migrations.AlterField(model_name="notification", name="title", field=models.CharField(default="", max_length=200)),
        migrations.AlterField(model_name="notification", name="body", field=models.CharField(default="", max_length=1000)),
        migrations.AlterField(
            model_name="delivery",
            name="token",
            field=models.CharField(
                default="", help_text="The device's token when the delivery was made.", max_length=2048
            ),
        ),
        *(migrations.RemoveField(model_name="notification", name=name) for name in MOVED),
        migrations.RemoveField(model_name="delivery", name="token"),
        migrations.RemoveField(model_name="delivery", name="delivered_at"),
        migrations.RemoveField(model_name="delivery", name="created_at"),
    ]
