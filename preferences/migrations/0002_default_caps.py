"""The frequency caps every marketing push starts with (settings.FREQUENCY_CAPS_DEFAULT); edited in the admin after."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations


def create(apps, schema_editor):
    FrequencyCap = apps.get_model("preferences", "FrequencyCap")
    if FrequencyCap.objects.exists():
        return
    for seconds, max_pushes in settings.FREQUENCY_CAPS_DEFAULT:
        window = timedelta(seconds=seconds)
        name = "Per day" if seconds == 86400 else "Per week" if seconds == 7 * 86400 else f"Per {window}"
        FrequencyCap.objects.create(name=name, window=window, max_pushes=max_pushes)


class Migration(migrations.Migration):
    dependencies = [("preferences", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
