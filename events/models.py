"""Business events as received, and the rules that turn them into notifications."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Now

from events import conditions
from notifications.models import Notification


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received (waiting for a worker)"
    PROCESSED = "processed", "Processed"
    NO_RULE = "no_rule", "Matched no rule"
    REJECTED = "rejected", "Rejected (malformed; kept as received)"


class Event(models.Model):
    """One business event, stored before anything is done with it."""

    producer = models.CharField(
        max_length=64, help_text="Who sent it: an API key ('key:<prefix>') or a Kafka topic ('kafka:<topic>')."
    )
    idempotency_key = models.CharField(max_length=255)
    type = models.CharField(max_length=64, db_index=True)
    user_id = models.CharField(max_length=255, db_index=True)
    occurred_at = models.DateTimeField(help_text="When it happened at the producer (received time if not given).")
    received_at = models.DateTimeField(db_default=Now())
    data = models.JSONField(default=dict, blank=True)
    attributes = models.JSONField(default=dict, blank=True, help_text="Shopper attributes it carried (merged).")
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED)
    outcome = models.TextField(blank=True, default="", help_text="What the rules did with it.")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        # Partitioned by day through its ids (config.partitions): a unique index must include the id, so an
        # event is stored once per producer and key by EventKey, which outlives it by nothing: both are kept
        # EVENT_RETENTION_DAYS.
        indexes = [
            models.Index(fields=["received_at"], name="event_unprocessed", condition=models.Q(status="received")),
            models.Index(fields=["user_id", "type", "occurred_at"], name="event_user_timeline"),
            models.Index(fields=["received_at"], name="event_received"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type} for {self.user_id}"


class EventKey(models.Model):
    """A producer's idempotency key and the event stored for it: an event is stored once per key."""

    pk = models.CompositePrimaryKey("producer", "idempotency_key")
    producer = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255)
    event_id = models.BigIntegerField()
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        # Keys are only ever inserted, in about received_at order: a block range index finds the old ones.
        indexes = [BrinIndex(fields=["received_at"], name="event_key_received")]

    def __str__(self) -> str:
        return f"{self.producer}: {self.idempotency_key}"


def validate_conditions(text: str) -> None:
    try:
        conditions.parse(text)
    except conditions.ConditionError as exc:
        raise ValidationError(str(exc)) from None


class TriggerRule(models.Model):
    """On events of a type (matching conditions), send a template to the event's user, now or later."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    event_type = models.CharField(max_length=64, db_index=True, help_text="e.g. order_status_changed")
    conditions = models.TextField(
        blank=True,
        default="",
        validators=[validate_conditions],
        help_text=(
            "One per line, all must hold; empty: every event of the type. "
            "e.g. <code>status in cancelled, delayed</code>, <code>total &gt;= 20</code>, <code>coupon exists</code>."
        ),
    )
    template = models.ForeignKey("message_templates.MessageTemplate", on_delete=models.PROTECT, related_name="rules")
    category = models.CharField(
        max_length=32,
        blank=True,
        default="",
        choices=[("", "The template's"), *((c, c.replace("_", " ")) for c in settings.NOTIFICATION_CATEGORIES)],
    )
    priority = models.CharField(
        max_length=8,
        blank=True,
        default="",
        choices=[("", "The template's"), ("high", "High"), ("normal", "Normal")],
    )
    delay = models.DurationField(
        default=timedelta(0), help_text="Wait this long after the event (HH:MM:SS); 0 sends at once."
    )
    match_key = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="The data field naming the thing the send is about (e.g. cart_id): a waiting send is cancelled "
        "or replaced only by events with the same value.",
    )
    cancel_on = ArrayField(
        models.CharField(max_length=64),
        blank=True,
        default=list,
        help_text="Event types that cancel a waiting send for the same key, comma-separated (checkout_completed).",
    )
    replace_waiting = models.BooleanField(
        default=True,
        help_text="A newer event of this type for the same key replaces the waiting send (so one shopper "
        "who keeps adding items gets one reminder, timed from the last change).",
    )
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["event_type", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.cancel_on and not self.match_key:
            errors["match_key"] = "Cancelling events need a match key to know which waiting send they cancel."
        if self.delay and self.delay < timedelta(0):
            errors["delay"] = "The delay can't be negative."
        if self.delay and self.delay > timedelta(days=settings.SCHEDULE_AHEAD_MAX_DAYS):
            errors["delay"] = f"The delay can be at most {settings.SCHEDULE_AHEAD_MAX_DAYS} days."
        if errors:
            raise ValidationError(errors)

    @property
    def waits(self) -> bool:
        return self.delay > timedelta(0)


class WaitingSend(Notification):
    """A rule's delayed send still waiting (a scheduled notification with a trigger key), for the admin."""

    class Meta:
        proxy = True
        verbose_name = "waiting send"
        verbose_name_plural = "waiting sends"
