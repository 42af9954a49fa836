"""Shoppers' notification preferences and the frequency caps on marketing pushes."""

from __future__ import annotations

from datetime import time

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Now


class Preference(models.Model):
    """One shopper's choices. No row means the defaults: every category on, default quiet hours."""

    user_id = models.CharField(max_length=255, unique=True)
    disabled_categories = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    quiet_hours_enabled = models.BooleanField(default=True)
    quiet_hours_start = models.TimeField(default=time(21, 0))
    quiet_hours_end = models.TimeField(default=time(8, 0))
    timezone = models.CharField(
        max_length=64, blank=True, default="", help_text="Empty: the time zone of the shopper's devices."
    )
    updated_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class FrequencyCap(models.Model):
    """At most `max_pushes` marketing pushes per user in any rolling `window`; all active caps apply at once."""

    name = models.CharField(max_length=100, help_text="e.g. 'Per day'.")
    window = models.DurationField(help_text="The rolling window, e.g. 1 day, 00:00:00 or 7 days, 00:00:00.")
    max_pushes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["window"]
        constraints = [models.UniqueConstraint(fields=["window"], name="one_cap_per_window")]

    def __str__(self) -> str:
        return f"{self.max_pushes} per {self.window}"
