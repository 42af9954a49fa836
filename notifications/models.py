"""Notifications, their deliveries to each device, every attempt, and what failed for good."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models.functions import Now

from devices.models import Device, Provider
from protection.outcomes import PolicyOutcome


class Source(models.TextChoices):
    API = "api", "Direct-send API"
    EVENT = "event", "Business event"
    CAMPAIGN = "campaign", "Campaign"
    TEST = "test", "Test send"


class NotificationStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"  # send_at in the future
    PENDING = "pending", "Pending"  # waiting for a worker to create its deliveries
    SENDING = "sending", "Sent to its devices (see each delivery)"  # deliveries created
    NO_DEVICE = "no_device", "No active device"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed before sending (see reason)"  # e.g. its template lacked data
    SUPPRESSED = "suppressed", "Not sent: shopper protection (see reason)"


class NotificationContent(models.Model):
    """What was sent, rendered once: shared by every notification of a campaign variant's batch, one per API or
    event notification. Its fields are notifications.records.Content's, except those kept on each notification
    (records.ON_NOTIFICATION). Written once, never updated."""

    title = models.CharField(max_length=200)
    body = models.CharField(max_length=1000)
    image = models.URLField(max_length=1000, blank=True, default="")
    deep_link = models.CharField(max_length=1000, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    translations = models.JSONField(
        default=dict, blank=True, help_text="Title, body, image and deep link per locale; a device's locale picks one."
    )
    priority = models.CharField(max_length=8, choices=[("high", "High"), ("normal", "Normal")], default="high")
    ttl_seconds = models.PositiveIntegerField(default=24 * 3600)
    collapse_key = models.CharField(max_length=64, blank=True, default="")
    dedup_key = models.CharField(
        max_length=200, blank=True, default="", help_text="Sent at most once per user within dedup_seconds."
    )
    dedup_seconds = models.PositiveIntegerField(default=0)
    frequency_caps = models.JSONField(
        default=list, blank=True, help_text="Stricter caps for this send, e.g. a campaign's: [[seconds, max], …]."
    )
    template_key = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = "notification content"

    def __str__(self) -> str:
        return f"content #{self.pk}: {self.title}"


class Notification(models.Model):
    """One message to one user: its content (shared by a campaign's shoppers), sent to each of their active devices."""

    user_id = models.CharField(max_length=255)
    # No database foreign key: both tables are partitioned by day (config.partitions). A content is written with
    # (or, for a campaign batch, after) its notifications' ids were taken, so its day's partition outlives theirs.
    content = models.ForeignKey(
        NotificationContent, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    # On each row, not in its content: the engine takes pending work, the admin filters and the rollups group by it.
    category = models.CharField(max_length=32)
    ttl_left_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="What was left of its content's TTL when shopper protection deferred it."
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    source_ref = models.CharField(
        max_length=255, blank=True, default="", help_text="Id of the event, campaign or API call."
    )
    send_at = models.DateTimeField(null=True, blank=True)
    trigger_key = models.CharField(
        max_length=255, blank=True, default="", help_text="A later event with this key cancels it while it waits."
    )
    status = models.CharField(max_length=16, choices=NotificationStatus.choices)
    status_reason = models.CharField(
        max_length=500, blank=True, default="", help_text="Why it failed, was cancelled, deferred or suppressed."
    )
    policy = models.CharField(
        max_length=24, blank=True, default="", choices=PolicyOutcome.choices, help_text="Shopper protection's verdict."
    )
    variant = models.CharField(max_length=32, blank=True, default="", help_text="A campaign's A/B variant.")
    target_device = models.ForeignKey(
        Device,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,  # no foreign keys on tables partitioned by day (config.partitions)
        db_index=False,  # notification_test_device: only test sends have one
        help_text="Only this device (a test send to one token); empty: every active device of the user.",
    )
    opened_at = models.DateTimeField(null=True, blank=True, help_text="When the app reported the push opened.")
    created_at = models.DateTimeField(db_default=Now(), db_index=True)  # a btree: the log's newest first
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at"]
        # Every index costs each of a campaign's rows twice (stored, then moved to `sending`), so only what a
        # query uses is indexed: no indexes on category or template key (no query narrows by them alone), no
        # LIKE twins of the text columns (Django adds them to db_index=True; nothing searches by prefix here).
        #
        # The table is partitioned by day through its ids (config.partitions), so no unique index can leave out
        # `id`. What unique indexes used to back up is kept by the engine's own locks: a campaign run reaches each
        # shopper once because its batches hold their shoppers and the notification ids they are written under
        # (a batch written twice collides on the primary key) and its pages move under a lock on the run; a rule
        # keeps one waiting send per user and key under an advisory lock on both (events.triggers).
        indexes = [
            models.Index(fields=["user_id"], name="notification_user"),
            # A campaign's rows by run: one key per run, which B-tree deduplication stores once per page of rows
            # (about 1 B a push, against 41 with the shopper in it; no query asks for a run and a shopper).
            models.Index(fields=["source_ref"], name="notification_campaign", condition=models.Q(source="campaign")),
            models.Index(
                fields=["user_id", "trigger_key"],
                name="notification_waiting_trigger",
                condition=models.Q(status="scheduled") & ~models.Q(trigger_key=""),
            ),
            models.Index(
                fields=["target_device"],
                name="notification_test_device",
                condition=models.Q(target_device__isnull=False),
            ),
            models.Index(fields=["send_at"], name="notification_due", condition=models.Q(status="scheduled")),
            models.Index(fields=["updated_at"], name="notification_pending", condition=models.Q(status="pending")),
            # A campaign's rows are found by notification_campaign (source_ref first), so they skip this one.
            models.Index(
                fields=["source", "source_ref"], name="notification_source", condition=~models.Q(source="campaign")
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category} to {self.user_id}"

    @property
    def due_at(self) -> datetime:
        """When it was meant to go out: its TTL and its latency count from here."""
        return self.send_at or self.created_at

    @property
    def ttl_seconds(self) -> int:
        """Its TTL, counted from due_at (a deferral moved send_at and kept what was left)."""
        return self.content.ttl_seconds if self.ttl_left_seconds is None else self.ttl_left_seconds

    @property
    def is_transactional(self) -> bool:
        return settings.NOTIFICATION_CATEGORIES.get(self.category) == "transactional"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
    FAILED = "failed", "Failed"
    TOKEN_INVALID = "token_invalid", "Token invalid"
    CANCELLED = "cancelled", "Cancelled"


OPEN_DELIVERY_STATUSES = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.RETRY_SCHEDULED)


class Delivery(models.Model):
    """One notification to one device. Moves between states only by conditional updates."""

    # Partitioned by day (config.partitions): no database foreign keys, Django's on_delete still applies.
    # Not indexed on its own: delivery_notification starts with it.
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries", db_index=False, db_constraint=False
    )
    # Not indexed: every push would pay for it, and only Support's token search needs it (notifications.selectors
    # finds those deliveries through the shopper's notifications instead).
    device = models.ForeignKey(
        Device, on_delete=models.PROTECT, related_name="deliveries", db_index=False, db_constraint=False
    )
    provider = models.CharField(max_length=16, choices=Provider.choices)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="What identifies the message at the provider, when the delivery's id doesn't "
        "(see provider_reference).",
    )
    last_error_code = models.CharField(max_length=64, blank=True, default="")
    last_error_text = models.CharField(max_length=500, blank=True, default="")
    # Its last change; once delivered, a delivery never changes again, so this is when it was delivered
    # (delivered_at). When it was made is not stored: in the transaction that sent its notification, and tried at
    # once unless its provider had to wait (then updated_at stays that time until it is tried); its first attempt's
    # time (notifications.attempts) says it to within a batch's time in flight.
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "deliveries"
        # One per notification and device: the notification's move out of `pending` is a conditional update, so
        # only one worker ever creates its deliveries (no unique index: it would have to include the id).
        indexes = [
            models.Index(fields=["notification", "device"], name="delivery_notification"),
            models.Index(
                fields=["next_attempt_at"], name="delivery_retry_due", condition=models.Q(status="retry_scheduled")
            ),
            models.Index(
                fields=["updated_at"], name="delivery_in_flight", condition=models.Q(status__in=["queued", "sending"])
            ),
            # The attempt log's first-try successes (notifications.attempts) and the delivery log's date filter, by
            # time: rows are appended in time order, so a block range's minimum and maximum find a time range as a
            # btree would, at a thousandth of its size; minmax-multi because a retried or requeued delivery,
            # updated much later than its neighbours, would widen a plain range.
            BrinIndex(
                fields=["updated_at"],
                name="delivery_updated_brin",
                opclasses=["timestamptz_minmax_multi_ops"],
                autosummarize=True,
                pages_per_range=32,
            ),
        ]

    def __str__(self) -> str:
        return f"delivery #{self.pk} ({self.provider}, {self.status})"

    @property
    def delivered_at(self) -> datetime | None:
        """When the provider accepted it (not stored: a delivered delivery's updated_at, which nothing moves later)."""
        return self.updated_at if self.status == DeliveryStatus.DELIVERED else None


class DeliveryAttempt(models.Model):
    """One try at sending a delivery: when, what the provider answered, how long it took."""

    # Not indexed on its own: attempt_timeline starts with it.
    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempt_log", db_index=False, db_constraint=False
    )
    number = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField()
    outcome = models.CharField(max_length=16)
    provider_code = models.CharField(max_length=64, blank=True, default="")
    provider_text = models.CharField(max_length=500, blank=True, default="")
    latency_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]
        indexes = [models.Index(fields=["delivery", "number"], name="attempt_timeline")]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.outcome} {self.provider_code}".strip()


class FailedDeliveryStatus(models.TextChoices):
    OPEN = "open", "Open"
    REQUEUED = "requeued", "Requeued"
    DISCARDED = "discarded", "Discarded"


class FailedDelivery(models.Model):
    """The dead-letter record of a delivery that ran out of attempts or failed for good."""

    # Kept longer than deliveries (FAILED_DELIVERY_RETENTION_DAYS): the payload is the message as it was sent,
    # and the delivery may already be gone with its day's partition.
    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, related_name="failure", db_constraint=False)
    reason = models.CharField(max_length=500)
    provider_code = models.CharField(max_length=64, blank=True, default="")
    payload = models.JSONField(help_text="The message as it was sent.")
    status = models.CharField(max_length=16, choices=FailedDeliveryStatus.choices, default=FailedDeliveryStatus.OPEN)
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        verbose_name = "failed delivery"
        verbose_name_plural = "failed deliveries"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"failed delivery #{self.delivery_id}: {self.reason[:60]}"


class ProviderPause(models.Model):
    """A provider whose credentials were refused: sending on it waits instead of burning attempts."""

    provider = models.CharField(max_length=16, choices=Provider.choices, primary_key=True)
    paused_until = models.DateTimeField()
    reason = models.CharField(max_length=500)
    paused_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"{self.provider} paused until {self.paused_until:%Y-%m-%d %H:%M:%S}"


class IdempotentRequest(models.Model):
    """The first answer to an API call with an idempotency key, replayed for repeats."""

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    response = models.JSONField()
    created_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="idempotency_once")]

    def __str__(self) -> str:
        return f"{self.principal}: {self.key}"
