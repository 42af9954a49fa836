"""Turning stored events into notifications by the trigger rules.

A rule with a delay and a match key makes a *waiting send*: a scheduled
notification with a trigger key (rule + user + key value). A later event of a
type the rule names in `cancel_on` cancels it; a newer event of the rule's own
type replaces it. Both look at when events occurred, not when they arrived,
so a checkout that is processed before the cart update it followed still wins.

Events of one batch take PostgreSQL advisory locks on every trigger key they
touch, in one sorted statement, before anything else: a cancel and a schedule
for the same cart on two workers then happen one after the other, and two
batches can't deadlock on each other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from events.conditions import ABSENT, as_text, lookup, matches_all
from events.models import Event, EventStatus, TriggerRule
from events.selectors import ActiveRules, active_rules
from notifications.creation import Content, NewNotification, store_notifications
from notifications.models import Notification, NotificationStatus, Source
from templates.rendering import RenderError, render_content


def process_events(event_ids: Sequence[int]) -> dict[str, int]:
    """Apply the active rules to events still waiting; returns counts by resulting status. Idempotent."""
    rules = active_rules()
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(event_ids), status=EventStatus.RECEIVED)
            .order_by("occurred_at", "pk")
        )
        if not events:
            return {}
        _lock_trigger_keys(events, rules)
        now = timezone.now()
        immediate: list[tuple[Event, TriggerRule, NewNotification]] = []
        notes: dict[int, list[str]] = {event.pk: [] for event in events}
        for event in events:
            acted = False
            for rule in rules.cancelled_by.get(event.type, []):
                acted = True
                notes[event.pk].append(_cancel_waiting(rule, event))
            for rule in rules.by_type.get(event.type, []):
                if not matches_all(rules.parsed[rule.pk], event.data):
                    continue
                acted = True
                item = _notification_for(rule, event)
                if rule.waits and rule.match_key and not item.failure:
                    notes[event.pk].append(_schedule_waiting(rule, event, item, now))
                else:
                    immediate.append((event, rule, item))
            event.status = EventStatus.PROCESSED if acted else EventStatus.NO_RULE
            event.processed_at = now
        stored = store_notifications(item for _, _, item in immediate)
        for (event, rule, _), notification in zip(immediate, stored, strict=True):
            notes[event.pk].append(_describe(rule, notification))
        for event in events:
            event.outcome = "\n".join(notes[event.pk]) or "No active rule matches this event."
        Event.objects.bulk_update(events, ["status", "outcome", "processed_at"])
    counts: dict[str, int] = {}
    for event in events:
        counts[event.status] = counts.get(event.status, 0) + 1
    return counts


def _notification_for(rule: TriggerRule, event: Event) -> NewNotification:
    """The rendered notification, or a failed one whose reason says what the data lacked."""
    template = rule.template
    send_at = event.occurred_at + rule.delay if rule.waits else None
    content = Content(title="", body="", category=template.category, template_key=template.key)
    if rule.match_key and lookup(event.data, rule.match_key) is ABSENT:
        failure = f"Rule '{rule.name}' needs '{rule.match_key}' in the event's data to know what the send is about."
    else:
        try:
            content = render_content(
                template, event.data, user_id=event.user_id, translations=list(template.translations.all())
            )
            failure = ""
        except RenderError as exc:
            failure = f"Template '{template.key}' could not be rendered for this event: {exc}"
    overrides = {"category": rule.category, "priority": rule.priority}
    content = dataclasses.replace(content, **{k: v for k, v in overrides.items() if v})
    return NewNotification(
        event.user_id, content, Source.EVENT, source_ref=str(event.pk), send_at=send_at, failure=failure
    )


def _schedule_waiting(rule: TriggerRule, event: Event, item: NewNotification, now: datetime) -> str:
    value = lookup(event.data, rule.match_key)
    key = trigger_key(rule, value)
    if _later_event_exists(rule, event, value):
        return f"{rule.name}: not scheduled; a later event for {rule.match_key}={value} already arrived."
    waiting = list(
        Notification.objects.filter(status=NotificationStatus.SCHEDULED, user_id=event.user_id, trigger_key=key)
    )
    if waiting and not rule.replace_waiting:
        return f"{rule.name}: not scheduled; notification #{waiting[0].pk} already waits for {rule.match_key}={value}."
    Notification.objects.filter(pk__in=[w.pk for w in waiting], status=NotificationStatus.SCHEDULED).update(
        status=NotificationStatus.CANCELLED,
        status_reason=f"Replaced by a newer {event.type} (event #{event.pk}).",
        updated_at=now,
    )
    [notification] = store_notifications([dataclasses.replace(item, trigger_key=key)])
    replaced = f", replacing #{waiting[0].pk}" if waiting else ""
    return f"{_describe(rule, notification)}{replaced}"


def _cancel_waiting(rule: TriggerRule, event: Event) -> str:
    value = lookup(event.data, rule.match_key)
    if value is ABSENT:
        return f"{rule.name}: nothing cancelled; the event has no {rule.match_key}."
    candidates = list(
        Notification.objects.filter(
            status=NotificationStatus.SCHEDULED, user_id=event.user_id, trigger_key=trigger_key(rule, value)
        ).values_list("pk", "source_ref")
    )
    started = dict(Event.objects.filter(pk__in=[int(ref) for _, ref in candidates]).values_list("pk", "occurred_at"))
    # Only sends whose own event came first: a checkout doesn't cancel a reminder for a later cart update.
    cancel = [pk for pk, ref in candidates if started.get(int(ref), event.occurred_at) <= event.occurred_at]
    cancelled = Notification.objects.filter(pk__in=cancel, status=NotificationStatus.SCHEDULED).update(
        status=NotificationStatus.CANCELLED,
        status_reason=f"Cancelled by {event.type} (event #{event.pk}).",
        updated_at=timezone.now(),
    )
    if not cancelled:
        return f"{rule.name}: nothing waiting for {rule.match_key}={value}."
    return f"{rule.name}: cancelled the waiting send #{', #'.join(map(str, cancel))}."


def _later_event_exists(rule: TriggerRule, event: Event, value: Any) -> bool:
    """A cancelling event at or after this one, or (if newer ones replace) a later one of the same type."""
    containing = _nested(rule.match_key, value)
    later = Event.objects.filter(user_id=event.user_id, data__contains=containing).exclude(pk=event.pk)
    cancels = later.filter(type__in=rule.cancel_on, occurred_at__gte=event.occurred_at).exists()
    if cancels or not rule.replace_waiting:
        return cancels
    return later.filter(type=rule.event_type, occurred_at__gt=event.occurred_at).exists()


def _lock_trigger_keys(events: list[Event], rules: ActiveRules) -> None:
    keys = set()
    for event in events:
        for rule in [*rules.cancelled_by.get(event.type, []), *rules.by_type.get(event.type, [])]:
            value = lookup(event.data, rule.match_key) if rule.match_key else ABSENT
            if value is not ABSENT:
                keys.add(f"{event.user_id} {trigger_key(rule, value)}")
    if keys:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(h) FROM "
                "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS k ORDER BY h) AS keys",
                [sorted(keys)],
            )


def trigger_key(rule: TriggerRule, value: Any) -> str:
    return f"rule-{rule.pk}:{rule.match_key}={as_text(value)}"[:255]


def _describe(rule: TriggerRule, notification: Notification) -> str:
    if notification.status == NotificationStatus.FAILED:
        return f"{rule.name}: notification #{notification.pk} failed: {notification.status_reason}"
    if notification.status == NotificationStatus.SCHEDULED:
        return f"{rule.name}: notification #{notification.pk} waits until {notification.send_at:%Y-%m-%d %H:%M:%S} UTC."
    return f"{rule.name}: notification #{notification.pk} sent to the workers."


def _nested(path: str, value: Any) -> dict[str, Any]:
    result: Any = value
    for part in reversed(path.split(".")):
        result = {part: result}
    return result
