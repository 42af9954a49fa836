"""What marketers do with campaigns: check, schedule, start, pause, resume, cancel, test. Status moves only
along models.TRANSITIONS, each move a conditional update (two clicks can't both win)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from campaigns import batches, queues
from campaigns.messages import arms_of, earliest_local_start
from campaigns.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    CampaignVariant,
    Recurrence,
    RunStatus,
    ScheduleKind,
)
from config.parsers import has_unstorable_text
from devices.models import Device
from devices.validation import validate_time_zone
from notifications import engine
from notifications.engine import NewNotification
from notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationStatus,
    Source,
)
from protection.policy import is_transactional
from templates.models import MessageTemplate
from templates.rendering import RenderError, render_content

SCHEDULE_TOLERANCE = timedelta(minutes=1)


def problems(campaign: Campaign, *, now: datetime | None = None) -> dict[str, list[str]]:
    """Why the campaign can't be scheduled or sent, per field; empty when it can."""
    now = now or timezone.now()
    found: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        found.setdefault(field, []).append(message)

    variants = list(campaign.variants.all()) if campaign.pk else []
    if campaign.template_id is None and not variants:
        add("template", "Choose a template (or add A/B variants).")
    if variants and sum(v.weight for v in variants) <= 0:
        add("variants", "The variants' weights must add up to more than 0.")
    for field, template in [("template", campaign.template), *(("variants", v.template) for v in variants)]:
        if template is not None and is_transactional(template.category):
            add(
                field,
                f"'{template}' is a {template.category} template: campaigns send marketing categories only "
                "(transactional templates are for trigger rules and the API).",
            )
    checked = [campaign.template] if campaign.template_id else []
    for message in context_problems(campaign.context, [*checked, *(v.template for v in variants)]):
        add("context", message)
    if campaign.segment_id is None:
        add("segment", "Choose a segment: who should get it?")
    if campaign.throttle_per_minute == 0:
        add("throttle_per_minute", "A throttle of 0 would never send; leave it empty for no throttle.")
    kind = campaign.schedule
    if kind == ScheduleKind.AT:
        if campaign.send_at is None:
            add("send_at", "When should it be sent?")
        elif campaign.send_at < now - SCHEDULE_TOLERANCE:
            add("send_at", f"{campaign.send_at:%Y-%m-%d %H:%M} UTC is in the past.")
    elif kind == ScheduleKind.LOCAL:
        if campaign.local_date is None or campaign.local_time is None:
            add("local_time", "Choose the day and the time of day.")
        elif earliest_local_start(campaign) < now - SCHEDULE_TOLERANCE:
            add("local_date", "That day and time has already passed in the earliest time zone (UTC+14).")
    elif kind == ScheduleKind.RECURRING:
        try:
            crontab_fields(campaign)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    add(field, message)
    return found


def context_problems(context: object, templates: list[MessageTemplate]) -> list[str]:
    """What each template (every translation) can't render with the campaign's context, naming the variables.

    The same render the sender does (templates.rendering), so what passes here renders for every shopper. A
    shopper's attributes (`user.…`) differ per shopper: the template's own sample context stands in for them,
    as its form already checked.
    """
    if not isinstance(context, dict):
        return []  # the form refuses a context that is not a JSON object
    found: list[str] = []
    for template in dict.fromkeys(templates):  # one message per template, even if several variants share it
        data = with_sample_user(context, template)
        try:
            render_content(template, data, user_id="sample-user", translations=list(template.translations.all()))
        except RenderError as exc:
            found.append(f"With this context, template '{template.key}' fails at {exc.field}: {exc.message}")
    return found


def with_sample_user(context: dict[str, object], template: MessageTemplate) -> dict[str, object]:
    """The campaign's context with the template's sample shopper (`user`) where the context has none: what a
    check or a preview renders, since each shopper's own attributes are only known when it is sent."""
    sample_user = (template.sample_context or {}).get("user")
    return {"user": sample_user, **context} if isinstance(sample_user, dict) else context


def crontab_fields(campaign: Campaign) -> dict[str, str]:
    """The django-celery-beat crontab of a recurring campaign."""
    try:
        validate_time_zone(campaign.recurrence_timezone)
    except ValidationError as exc:
        raise ValidationError({"recurrence_timezone": exc.messages}) from None
    if campaign.recurrence in (Recurrence.DAILY, Recurrence.WEEKLY):
        if campaign.recurrence_time is None:
            raise ValidationError({"recurrence_time": "At what time?"})
        if campaign.recurrence == Recurrence.WEEKLY and campaign.recurrence_weekday is None:
            raise ValidationError({"recurrence_weekday": "On which day of the week?"})
        day = "*" if campaign.recurrence == Recurrence.DAILY else str(campaign.recurrence_weekday)
        return {
            "minute": str(campaign.recurrence_time.minute),
            "hour": str(campaign.recurrence_time.hour),
            "day_of_week": day,
            "day_of_month": "*",
            "month_of_year": "*",
        }
    if campaign.recurrence == Recurrence.CRON:
        parts = campaign.cron.split()
        if len(parts) != 5:
            raise ValidationError({"cron": "Five fields: minute hour day-of-month month day-of-week, e.g. 0 17 * * 5."})
        fields = dict(zip(["minute", "hour", "day_of_month", "month_of_year", "day_of_week"], parts, strict=True))
        try:
            from celery.schedules import crontab

            crontab(**fields)
        except (ValueError, TypeError) as exc:
            raise ValidationError({"cron": f"Not a valid cron expression: {exc}"}) from None
        return fields
    raise ValidationError({"recurrence": "How often: every day, every week or a cron expression."})


def _move(campaign: Campaign, to: str) -> None:
    """A conditional status change: only from the status the caller saw, only along TRANSITIONS."""
    if to not in campaign.allowed_transitions():
        raise ValidationError(f"A {campaign.get_status_display().lower()} campaign can't become {to}.")
    moved = Campaign.objects.filter(pk=campaign.pk, status=campaign.status).update(status=to, updated_at=timezone.now())
    if not moved:
        raise ValidationError("The campaign changed meanwhile; reload the page.")
    campaign.status = to


def _require(campaign: Campaign, status: str, verb: str) -> None:
    if campaign.status != status:
        raise ValidationError(f"Only a {status} campaign can be {verb}; this one is {campaign.status}.")


def saved_version(campaign: Campaign) -> str:
    """A token of the campaign as saved: every save (the admin's too) moves updated_at."""
    return campaign.updated_at.isoformat() if campaign.updated_at else ""


def launch(campaign: Campaign, *, version: str | None = None) -> CampaignRun | None:
    """Schedule the campaign as its schedule says; "send now" starts its run at once.

    `version` (from the admin page) is the saved_version the marketer saw: a campaign saved since then is
    refused, so Launch never acts on something other than what the page showed as saved.
    """
    _require(campaign, CampaignStatus.DRAFT, "launched")
    if version is not None and version != saved_version(campaign):
        raise ValidationError("The campaign was changed since this page was loaded; reload it and check it first.")
    found = problems(campaign)
    if found:
        raise ValidationError(found)
    with transaction.atomic():
        if campaign.schedule == ScheduleKind.NOW:
            _move(campaign, CampaignStatus.SENDING)
            return _start_run(campaign)
        if campaign.schedule == ScheduleKind.LOCAL:
            campaign.send_at = earliest_local_start(campaign)
            Campaign.objects.filter(pk=campaign.pk).update(send_at=campaign.send_at)
        if campaign.schedule == ScheduleKind.RECURRING:
            _install_periodic_task(campaign)
        _move(campaign, CampaignStatus.SCHEDULED)
    return None


def _install_periodic_task(campaign: Campaign) -> None:
    schedule, _ = CrontabSchedule.objects.get_or_create(
        **crontab_fields(campaign), timezone=campaign.recurrence_timezone
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"campaign {campaign.pk}: {campaign.name}"[:200],
        defaults={
            "task": queues.START_RECURRING_RUN,
            "crontab": schedule,
            "interval": None,
            "args": json.dumps([campaign.pk]),
            "enabled": True,
            "queue": "default",
        },
    )
    Campaign.objects.filter(pk=campaign.pk).update(periodic_task=task)
    campaign.periodic_task = task


def start_due() -> int:
    """Beat: campaigns scheduled for a date and time (or a local time) whose moment has come."""
    started = 0
    due = Campaign.objects.filter(
        status=CampaignStatus.SCHEDULED,
        schedule__in=[ScheduleKind.AT, ScheduleKind.LOCAL],
        send_at__lte=timezone.now(),
    ).values_list("pk", flat=True)
    for pk in due:
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=CampaignStatus.SCHEDULED)
                .first()
            )
            if campaign is None:
                continue
            _move(campaign, CampaignStatus.SENDING)
            _start_run(campaign)
            started += 1
    return started


def start_recurring_run(campaign_id: int) -> CampaignRun | None:
    """Beat (the campaign's periodic task): one occurrence of a recurring campaign."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != CampaignStatus.SCHEDULED:
            return None  # paused, cancelled, or the previous run still sending
        _move(campaign, CampaignStatus.SENDING)
        return _start_run(campaign)


def _start_run(campaign: Campaign) -> CampaignRun:
    run = CampaignRun.objects.create(campaign=campaign, next_page_at=timezone.now())
    queues.fan_out_page(run.pk, "")
    return run


def pause(campaign: Campaign) -> None:
    """Stop the fan-out after the page in progress; nothing is lost: resume carries on from the cursor."""
    with transaction.atomic():
        _move(campaign, CampaignStatus.PAUSED)
        CampaignRun.objects.filter(campaign=campaign, status=RunStatus.SENDING).update(status=RunStatus.PAUSED)
        if campaign.periodic_task_id:
            PeriodicTask.objects.filter(pk=campaign.periodic_task_id).update(enabled=False)


def resume(campaign: Campaign) -> None:
    _require(campaign, CampaignStatus.PAUSED, "resumed")
    with transaction.atomic():
        runs = list(CampaignRun.objects.select_for_update().filter(campaign=campaign, status=RunStatus.PAUSED))
        _move(campaign, CampaignStatus.SENDING if runs else CampaignStatus.SCHEDULED)
        for run in runs:
            run.status = RunStatus.SENDING
            run.next_page_at = timezone.now()
            run.save(update_fields=["status", "next_page_at"])
            if not run.fanned_out_at:
                queues.fan_out_page(run.pk, run.cursor)
        if campaign.periodic_task_id:
            PeriodicTask.objects.filter(pk=campaign.periodic_task_id).update(enabled=True)


def cancel(campaign: Campaign) -> int:
    """Stop for good: the fan-out stops, and what is not yet sent is withdrawn. Returns notifications withdrawn."""
    with transaction.atomic():
        _move(campaign, CampaignStatus.CANCELLED)
        now = timezone.now()
        runs = list(CampaignRun.objects.filter(campaign=campaign).values_list("pk", flat=True))
        CampaignRun.objects.filter(pk__in=runs).exclude(status=RunStatus.COMPLETED).update(
            status=RunStatus.CANCELLED, finished_at=now
        )
        refs = [str(pk) for pk in runs]
        withdrawn_batches = batches.withdraw(runs)
        Delivery.objects.filter(
            notification__source=Source.CAMPAIGN,
            notification__source_ref__in=refs,
            status__in=[DeliveryStatus.QUEUED, DeliveryStatus.RETRY_SCHEDULED],
        ).update(status=DeliveryStatus.CANCELLED, last_error_code="campaign_cancelled", updated_at=now)
        withdrawn = Notification.objects.filter(
            source=Source.CAMPAIGN,
            source_ref__in=refs,
            status__in=[NotificationStatus.PENDING, NotificationStatus.SCHEDULED],
        ).update(status=NotificationStatus.CANCELLED, status_reason="The campaign was cancelled.", updated_at=now)
        if campaign.periodic_task_id:
            PeriodicTask.objects.filter(pk=campaign.periodic_task_id).delete()
    return withdrawn + withdrawn_batches


def unschedule(campaign: Campaign) -> None:
    """Back to draft (only from scheduled): its content can be edited again."""
    _require(campaign, CampaignStatus.SCHEDULED, "moved back to draft")
    with transaction.atomic():
        _move(campaign, CampaignStatus.DRAFT)
        if campaign.periodic_task_id:
            PeriodicTask.objects.filter(pk=campaign.periodic_task_id).delete()


# Named by the admin's error with its field ("user id: …", "token: …").
NOT_A_TEST_DEVICE = (
    "a test goes only to a device marked as a test device by an Administrator (Devices → test device), "
    "not to a shopper's."
)


def test_send(campaign: Campaign, *, user_id: str = "", token: str = "", by: str = "") -> list[Notification]:
    """The campaign's first variant, marked as a test, to test devices only: the device with this token, or
    each of this user's (one notification per device, each bound to its device).

    Test sends skip shopper protection (a marketer checks how the push looks, at any hour), so they may reach
    only devices an Administrator marked as test devices: never a shopper a marketer names (issue 17, item 9).
    """
    from campaigns.messages import render_for

    if bool(user_id) == bool(token):
        raise ValidationError("Give a user id or a device token.")
    for field, value in (("user_id", user_id), ("token", token)):
        if has_unstorable_text(value):  # PostgreSQL refuses NUL even in a WHERE clause: a 500 otherwise
            raise ValidationError({field: "Contains NUL or a lone surrogate."})
    if token:
        # One answer whether the token is unknown or a shopper's: marketers don't get to probe tokens.
        devices = list(Device.objects.filter(token=token, is_active=True, is_test_device=True))
        if not devices:
            raise ValidationError({"token": f"No active test device has this token: {NOT_A_TEST_DEVICE}"})
        user_id = devices[0].user_id
    else:
        devices = list(Device.objects.filter(user_id=user_id, is_active=True, is_test_device=True).order_by("pk"))
        if not devices:
            raise ValidationError({"user_id": f"This user has no active test device: {NOT_A_TEST_DEVICE}"})
    if campaign.template_id is None and not campaign.variants.exists():
        raise ValidationError({"template": "Choose a template first."})
    arm, template = arms_of(campaign)[0]
    content, failure = render_for(campaign, template, user_id)
    if failure:
        raise ValidationError(failure)
    stored = engine.store(
        NewNotification(
            user_id,
            content,
            Source.TEST,
            source_ref=f"campaign {campaign.pk} test by {by}"[:255],
            variant=arm.name,
            # Bound to the device checked here, so the send reaches no other device of the user.
            target_device_id=device.pk,
        )
        for device in devices
    )
    return list(Notification.objects.filter(pk__in=[n.pk for n in stored]).order_by("pk"))


COPY_SUFFIX = " (copy)"
# What a copy keeps: everything a marketer set up but its name, not what happened when it ran (status, runs,
# beat's task).
COPIED_FIELDS = tuple(name for name in Campaign.SETUP_FIELDS if name != "name")


def duplicate(campaign: Campaign, *, by: str, now: datetime | None = None) -> tuple[Campaign, list[str]]:
    """A draft copy of the campaign, its A/B variants included, created by `by`; runs and results stay behind.

    A one-time date that has passed is not copied (the copy could never be launched with it): the notes
    returned say so in words, for the marketer to choose a new one.
    """
    now = now or timezone.now()
    name = campaign.name[: Campaign._meta.get_field("name").max_length - len(COPY_SUFFIX)] + COPY_SUFFIX
    copy = Campaign(name=name, status=CampaignStatus.DRAFT, created_by=by)
    for field in COPIED_FIELDS:
        setattr(copy, field, getattr(campaign, field))
    copy.context = json.loads(json.dumps(campaign.context))  # its own, not the original's dict
    notes: list[str] = []
    if copy.schedule != ScheduleKind.AT:
        copy.send_at = None  # only "at a date and time" keeps one; launch derives a local-time campaign's
    elif copy.send_at is not None and copy.send_at <= now:
        notes.append(f"its date ({copy.send_at:%Y-%m-%d %H:%M} UTC) has passed: choose a new one before launching")
        copy.send_at = None
    local = copy.schedule == ScheduleKind.LOCAL and copy.local_date and copy.local_time
    if local and earliest_local_start(copy) <= now:
        notes.append(f"its day ({copy.local_date:%Y-%m-%d}) has passed: choose a new one before launching")
        copy.local_date = None
    with transaction.atomic():
        copy.save()
        CampaignVariant.objects.bulk_create(
            CampaignVariant(campaign=copy, name=v.name, template_id=v.template_id, weight=v.weight)
            for v in campaign.variants.all()
        )
    return copy, notes
