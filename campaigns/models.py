"""Campaigns: a template (or A/B variants) to a segment, on a schedule, fanned out in runs."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Now


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


# The only moves a campaign's status makes; the admin offers these and no others.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    CampaignStatus.DRAFT: (CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.CANCELLED),
    CampaignStatus.SCHEDULED: (
        CampaignStatus.DRAFT,
        CampaignStatus.SENDING,
        CampaignStatus.PAUSED,
        CampaignStatus.CANCELLED,
    ),
    # A recurring campaign goes back to scheduled after each run.
    CampaignStatus.SENDING: (
        CampaignStatus.PAUSED,
        CampaignStatus.COMPLETED,
        CampaignStatus.SCHEDULED,
        CampaignStatus.CANCELLED,
    ),
    CampaignStatus.PAUSED: (CampaignStatus.SENDING, CampaignStatus.SCHEDULED, CampaignStatus.CANCELLED),
    CampaignStatus.COMPLETED: (),
    CampaignStatus.CANCELLED: (),
}


class ScheduleKind(models.TextChoices):
    NOW = "now", "Send now"
    AT = "at", "At a date and time"
    LOCAL = "local", "At a time of day in each shopper's own time zone"
    RECURRING = "recurring", "Recurring"


class Recurrence(models.TextChoices):
    DAILY = "daily", "Every day"
    WEEKLY = "weekly", "Every week"
    CRON = "cron", "Cron expression"


def marketing_templates() -> models.Q:
    """Templates a campaign may send: marketing categories only. Transactional ones (order updates) are for
    rules and the API; a campaign sending one would pass opt-outs, quiet hours and caps."""
    return models.Q(category__in=[c for c, kind in settings.NOTIFICATION_CATEGORIES.items() if kind == "marketing"])


class Campaign(models.Model):
    # What a marketer sets up (the admin's form; what Duplicate copies), as opposed to what running it records.
    SETUP_FIELDS = (
        "name",
        "description",
        "template",
        "context",
        "segment",
        "schedule",
        "send_at",
        "local_date",
        "local_time",
        "recurrence",
        "recurrence_time",
        "recurrence_weekday",
        "cron",
        "recurrence_timezone",
        "throttle_per_minute",
        "max_per_user_per_day",
        "conversion_event",
        "conversion_window",
    )

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    template = models.ForeignKey(
        "message_templates.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        limit_choices_to=marketing_templates,
        help_text="What everyone gets; with A/B variants below, each variant's template is used instead.",
    )
    context = models.JSONField(
        default=dict, blank=True, help_text='The template\'s data, e.g. {"discount": "20%", "category": "fruit"}.'
    )
    segment = models.ForeignKey(
        "audience.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    schedule = models.CharField(max_length=16, choices=ScheduleKind.choices, default=ScheduleKind.NOW)
    send_at = models.DateTimeField(null=True, blank=True, help_text="'At a date and time': when.")
    local_date = models.DateField(null=True, blank=True, help_text="'Time of day': the day…")
    local_time = models.TimeField(null=True, blank=True, help_text="…and the time in each shopper's zone (10:00).")
    recurrence = models.CharField(max_length=8, choices=Recurrence.choices, blank=True, default="")
    recurrence_time = models.TimeField(null=True, blank=True, help_text="Daily/weekly: at this time…")
    recurrence_weekday = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=[
            (0, "Sunday"),
            (1, "Monday"),
            (2, "Tuesday"),
            (3, "Wednesday"),
            (4, "Thursday"),
            (5, "Friday"),
            (6, "Saturday"),
        ],
        help_text="Weekly: on this day.",
    )
    cron = models.CharField(
        max_length=100, blank=True, default="", help_text="Cron: minute hour day-of-month month day-of-week."
    )
    recurrence_timezone = models.CharField(max_length=64, default="UTC", help_text="The zone the recurrence runs in.")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    throttle_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="At most this many sends a minute."
    )
    max_per_user_per_day = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="A stricter frequency cap for this campaign's pushes (marketing pushes per shopper per day).",
    )
    conversion_event = models.CharField(
        max_length=64, default="checkout_completed", help_text="The event type that counts as a conversion."
    )
    conversion_window = models.DurationField(default=timedelta(hours=24), help_text="…within this long of delivery.")
    created_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "send_at"], name="campaign_due")]

    def __str__(self) -> str:
        return self.name

    def allowed_transitions(self) -> tuple[str, ...]:
        return TRANSITIONS[self.status]


class CampaignVariant(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=32, help_text="A, B, …")
    template = models.ForeignKey(
        "message_templates.MessageTemplate",
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to=marketing_templates,
    )
    weight = models.PositiveIntegerField(default=50, help_text="Share of the audience, relative to the others.")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["campaign", "name"], name="variant_name_once")]

    def __str__(self) -> str:
        return f"{self.campaign.name} · {self.name}"


class RunStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class CampaignRun(models.Model):
    """One sending of a campaign (a recurring campaign has one per occurrence): its fan-out cursor and counts."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.SENDING)
    cursor = models.CharField(
        max_length=255, blank=True, default="", help_text="The last user id fanned out (keyset pagination)."
    )
    targeted = models.PositiveIntegerField(default=0)
    next_page_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(db_default=Now())
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.campaign.name} run #{self.pk}"


class BatchStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    DONE = "done", "Sent (see its notifications)"
    CANCELLED = "cancelled", "Withdrawn with the campaign"


class CampaignBatch(models.Model):
    """Shoppers of a run sent together by one task, which judges, sends and writes their notifications at once.

    The notifications are written only then, each in its final state (sent, held back, no device): one
    row written per shopper instead of a pending row updated later. Their ids are taken when the batch
    is made, so that sending it again after a worker died counts nobody twice against their caps.
    """

    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="batches")
    user_ids = ArrayField(models.CharField(max_length=255))
    notification_ids = ArrayField(models.BigIntegerField())
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [
            # The sweep's question: which batches lost their task?
            models.Index(fields=["updated_at"], name="campaign_batch_waiting", condition=models.Q(status="pending"))
        ]

    def __str__(self) -> str:
        return f"{self.run} batch #{self.pk} ({len(self.user_ids)} shoppers)"
