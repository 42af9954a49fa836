"""One shopper's history for Support's shopper page: what came in, what was sent, and what each device got.

Newest first, bounded (the last TIMELINE_DAYS days, at most TIMELINE_LIMIT entries), read with a fixed number of
queries whatever the history: events, notifications with their deliveries counted, those notifications'
deliveries with their devices and failed records, devices, and the few names the entries show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from campaigns.models import CampaignRun
from devices.models import Device
from events.models import Event, EventStatus
from events.selectors import why_no_rule
from notifications.models import Delivery, Notification, Source
from notifications.outcomes import (
    delivery_outcome,
    device_label,
    notification_outcome,
    notification_state,
    sent_language,
    with_delivery_counts,
)
from templates.models import MessageTemplate

TIMELINE_DAYS = 30
TIMELINE_LIMIT = 200

EVENT, NOTIFICATION, DEVICE_ADDED, DEVICE_REMOVED = "event", "notification", "device_added", "device_removed"


@dataclass(frozen=True)
class DeliveryLine:
    """One device's outcome of a notification."""

    delivery_id: int
    at: datetime
    words: str
    device_id: int
    failure_id: int | None = None  # its failed-delivery record, if it has one
    failure_status: str = ""


@dataclass
class Entry:
    at: datetime
    kind: str  # EVENT, NOTIFICATION, DEVICE_ADDED or DEVICE_REMOVED: which record `pk` names
    pk: int
    heading: str  # the event's type, the notification's title, the device
    state: str  # in a word or two
    words: str  # what happened and why
    detail: str = ""
    event_id: int | None = None  # a notification's event
    campaign_id: int | None = None  # a notification's campaign
    lines: list[DeliveryLine] = field(default_factory=list)


@dataclass(frozen=True)
class Timeline:
    entries: list[Entry]
    since: datetime
    truncated: bool  # older entries within the window exist and are not shown


def shopper_timeline(user_id: str, *, now: datetime | None = None) -> Timeline:
    since = (now or timezone.now()) - timedelta(days=TIMELINE_DAYS)
    events = list(
        Event.objects.filter(user_id=user_id, received_at__gte=since).order_by("-received_at")[:TIMELINE_LIMIT]
    )
    notifications = list(
        with_delivery_counts(
            Notification.objects.filter(user_id=user_id, created_at__gte=since).select_related("content")
        ).order_by("-created_at")[:TIMELINE_LIMIT]
    )
    entries = [
        *_event_entries(events),
        *(_notification_entry(n) for n in notifications),
        *_device_entries(user_id, since),
    ]
    # A source cut at the limit can only have lost entries older than all it returned: the merged list's first
    # TIMELINE_LIMIT entries are exact.
    truncated = len(entries) > TIMELINE_LIMIT or TIMELINE_LIMIT in (len(events), len(notifications))
    entries.sort(key=lambda e: e.at, reverse=True)
    entries = entries[:TIMELINE_LIMIT]
    _add_deliveries(entries, {n.pk: n for n in notifications})
    return Timeline(entries, since, truncated)


def _event_entries(events: list[Event]) -> list[Entry]:
    why = why_no_rule(e for e in events if e.status == EventStatus.NO_RULE)
    entries = []
    for event in events:
        if event.status == EventStatus.NO_RULE:
            words = why[event.pk]  # the state says "Matched no rule"; this says why
        elif event.status == EventStatus.RECEIVED:
            words = "Waiting for a worker to apply the rules."
        else:
            words = event.outcome or "—"
        entries.append(
            Entry(
                event.received_at,
                EVENT,
                event.pk,
                event.type,
                event.get_status_display(),
                words,
                f"from {event.producer}",
            )
        )
    return entries


def _notification_entry(notification: Notification) -> Entry:
    source = notification.get_source_display()
    event_id = None
    if notification.source == Source.EVENT and notification.source_ref.isdigit():
        event_id = int(notification.source_ref)
    return Entry(
        notification.created_at,
        NOTIFICATION,
        notification.pk,
        notification.content.title or notification.content.template_key or "(untitled)",
        notification_state(notification),
        notification_outcome(notification) or "—",
        f"{notification.category.replace('_', ' ')} · {source}",
        event_id=event_id,
    )


def _device_entries(user_id: str, since: datetime) -> list[Entry]:
    entries = []
    for device in Device.objects.filter(user_id=user_id).order_by("-created_at")[:TIMELINE_LIMIT]:
        label = device_label(device)
        if device.created_at >= since:
            entries.append(
                Entry(
                    device.created_at,
                    DEVICE_ADDED,
                    device.pk,
                    label,
                    "Registered",
                    f"Locale {device.locale or 'not given'}.",
                )
            )
        if device.deactivated_at and device.deactivated_at >= since:
            reason = device.get_deactivation_reason_display() or "no reason recorded"
            entries.append(Entry(device.deactivated_at, DEVICE_REMOVED, device.pk, label, "Removed", f"{reason}."))
    return entries


def _add_deliveries(entries: list[Entry], notifications: dict[int, Notification]) -> None:
    """Each shown notification's deliveries (one query), in the language each device was sent; campaign links."""
    shown = [entry for entry in entries if entry.kind == NOTIFICATION]
    if not shown:
        return
    chosen = [notifications[entry.pk] for entry in shown]
    default_locale = dict(
        MessageTemplate.objects.filter(key__in={n.content.template_key for n in chosen}).values_list(
            "key", "default_locale"
        )
    )
    deliveries = Delivery.objects.filter(notification_id__in=[n.pk for n in chosen]).select_related("device", "failure")
    lines: dict[int, list[DeliveryLine]] = {}
    for delivery in deliveries.order_by("notification_id", "pk"):
        notification = notifications[delivery.notification_id]
        language = sent_language(
            notification, delivery.device.locale, default_locale.get(notification.content.template_key, "")
        )
        failure = delivery.failure if hasattr(delivery, "failure") else None
        lines.setdefault(delivery.notification_id, []).append(
            DeliveryLine(
                delivery.pk,
                delivery.updated_at,
                delivery_outcome(delivery, language=language),
                delivery.device_id,
                failure.pk if failure else None,
                failure.get_status_display() if failure else "",
            )
        )
    runs = [int(n.source_ref) for n in chosen if n.source == Source.CAMPAIGN and n.source_ref.isdigit()]
    campaign_of = dict(CampaignRun.objects.filter(pk__in=runs).values_list("pk", "campaign_id")) if runs else {}
    for entry in shown:
        entry.lines.extend(lines.get(entry.pk, []))
        notification = notifications[entry.pk]
        if notification.source == Source.CAMPAIGN and notification.source_ref.isdigit():
            entry.campaign_id = campaign_of.get(int(notification.source_ref))
