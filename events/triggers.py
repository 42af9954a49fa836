"""Turning stored events into notifications by the trigger rules.

A rule with a delay and a match key makes a *waiting send*: a scheduled
notification with a trigger key (rule + key value) for the event's user. A
later event of a type the rule names in `cancel_on` cancels it; a newer event
of the rule's own type replaces it. Both look at when events occurred, not
when they arrived, so a checkout processed before the cart update it followed
still wins.

A batch of events is decided with a fixed number of queries, whatever its
size: the events that could supersede or cancel (one query per match key),
the waiting sends of the batch's keys, one UPDATE for every cancellation and
one INSERT for every new notification.

Events of one batch take PostgreSQL advisory locks on every trigger key they
touch, in one sorted statement, before anything else: a cancel and a schedule
for the same cart on two workers then happen one after the other, and two
batches can't deadlock on each other.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, Value, When
from django.db.models.fields.json import KT
from django.utils import timezone

from audience.services import merge_attributes
from config import bulk_sql
from events.conditions import ABSENT, as_text, lookup, matches_all
from events.models import Event, EventStatus, TriggerRule
from events.selectors import ActiveRules, active_rules
from notifications import engine
from notifications.engine import Content, NewNotification, Stored
from notifications.models import Notification, NotificationStatus, Source
from protection.policy import is_transactional
from templates.rendering import RenderError, render_content


@dataclasses.dataclass
class _Keyed:
    """An event touching a waiting send: scheduling one (item set) or cancelling one."""

    rule: TriggerRule
    event: Event
    value: str  # the match key's value, as text
    item: NewNotification | None = None

    @property
    def key(self) -> str:
        return trigger_key(self.rule, self.value)

    @property
    def slot(self) -> tuple[str, str]:
        return self.event.user_id, self.key


@dataclasses.dataclass
class _Matched:
    """What the active rules make of a batch of events, before anything is written."""

    notes: dict[int, list[str]]  # per event: what each rule did with it, in words
    immediate: list[tuple[TriggerRule, NewNotification]] = dataclasses.field(default_factory=list)
    schedules: list[_Keyed] = dataclasses.field(default_factory=list)  # waiting sends to schedule
    cancels: list[_Keyed] = dataclasses.field(default_factory=list)  # waiting sends to cancel


def process_events(event_ids: Sequence[int]) -> dict[str, int]:
    """Apply the active rules to events still waiting; returns counts by resulting status. Idempotent.

    In one transaction: take the events (_take), match them against the rules (_match), record the shoppers'
    attributes they carry, settle the waiting sends they schedule or cancel, store the notifications through
    the engine's door, and write each event's outcome.
    """
    with transaction.atomic():
        events = _take(list(event_ids))
        if not events:
            return {}
        rules = active_rules()  # only once there is work: a task whose events were taken by another reads nothing
        now = timezone.now()
        matched = _match(events, rules, now)
        merge_attributes(_attributes_told(events))
        keyed = [*matched.cancels, *matched.schedules]
        if keyed:
            _lock(keyed)
        scheduled = _decide_waiting_sends(matched.cancels, matched.schedules, matched.notes, now)
        # Order updates are sent by this task itself after the commit: one queue hop less on the path that
        # must be fast (measured: each hop waits while the workers are busy with a campaign).
        stored = engine.store(
            [item for _, item in matched.immediate] + [k.item for k in scheduled], send_inline=is_transactional
        )
        described = [*(rule for rule, _ in matched.immediate), *(k.rule for k in scheduled)]
        for rule, notification in zip(described, stored, strict=True):
            matched.notes[int(notification.item.source_ref)].append(_describe(rule, notification))
        for event in events:
            event.outcome = "\n".join(matched.notes[event.pk]) or "No active rule matches this event."
        _write_results(events, now)
    return dict(Counter(event.status for event in events))


def _match(events: list[Event], rules: ActiveRules, now: datetime) -> _Matched:
    """Each event against the rules of its type (and the rules it cancels for); sets each event's status."""
    matched = _Matched(notes={event.pk: [] for event in events})
    for event in events:
        acted = False
        for rule in rules.cancelled_by.get(event.type, []):
            acted = True
            value = lookup(event.data, rule.match_key)
            if value is ABSENT:
                matched.notes[event.pk].append(f"{rule.name}: nothing cancelled; the event has no {rule.match_key}.")
            else:
                matched.cancels.append(_Keyed(rule, event, as_text(value)))
        for rule in rules.by_type.get(event.type, []):
            if not matches_all(rules.parsed[rule.pk], event.data):
                continue
            acted = True
            item = _notification_for(rule, event)
            if rule.waits and rule.match_key and not item.failure:
                matched.schedules.append(_Keyed(rule, event, as_text(lookup(event.data, rule.match_key)), item))
            else:
                matched.immediate.append((rule, item))
        event.status = EventStatus.PROCESSED if acted else EventStatus.NO_RULE
        event.processed_at = now
    return matched


def _attributes_told(events: list[Event]) -> dict[str, dict[str, Any]]:
    """Per shopper, the attributes the batch's events carried; a later event's value wins."""
    told: dict[str, dict[str, Any]] = defaultdict(dict)
    for event in events:  # in occurred_at order
        if event.attributes:
            told[event.user_id].update(event.attributes)
    return told


def _take(event_ids: list[int]) -> list[Event]:
    """Lock the given events still waiting and, up to EVENT_PROCESS_BATCH, other waiting events (oldest first).

    A backlog is drained in batches: under a burst of single-event requests, one task does the work of
    many (a fixed number of queries for the batch) and the tasks queued for the events it took find
    nothing left. One query: its own events first, then the oldest others.
    """
    own_first = Case(When(pk__in=event_ids, then=Value(0)), default=Value(1))
    events = (
        Event.objects.select_for_update(skip_locked=True)
        .filter(status=EventStatus.RECEIVED)
        .order_by(own_first, "received_at")[: max(settings.EVENT_PROCESS_BATCH, len(event_ids))]
    )
    return sorted(events, key=lambda e: (e.occurred_at, e.pk))


# One statement for the batch (Django's bulk_update builds a CASE per row and field).
_WRITE_RESULTS = f"""
UPDATE {Event._meta.db_table} AS e SET status = v.status, outcome = v.outcome, processed_at = %b
FROM unnest(%b::bigint[], %b::text[], %b::text[]) AS v(id, status, outcome)
WHERE e.id = v.id
"""  # noqa: S608 - only the table name is formatted in


def _write_results(events: list[Event], now: datetime) -> None:
    bulk_sql.execute(
        _WRITE_RESULTS, [now, [e.pk for e in events], [e.status for e in events], [e.outcome for e in events]]
    )


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


def _decide_waiting_sends(
    cancels: list[_Keyed], schedules: list[_Keyed], notes: dict[int, list[str]], now: datetime
) -> list[_Keyed]:
    """Cancel and replace waiting sends; returns the schedules to store."""
    if not cancels and not schedules:
        return []
    later = _later_events(schedules)
    waiting = _waiting_sends([*cancels, *schedules])
    cancelled: dict[int, str] = {}  # notification id -> reason; the first reason wins
    for request in cancels:
        event = request.event
        hits = [pk for pk, started in waiting.get(request.slot, []) if started <= event.occurred_at]
        for pk in hits:
            cancelled.setdefault(pk, f"Cancelled by {event.type} (event #{event.pk}).")
        what = f"{request.rule.match_key}={request.value}"
        if hits:
            notes[event.pk].append(f"{request.rule.name}: cancelled the waiting send #{', #'.join(map(str, hits))}.")
        else:
            notes[event.pk].append(f"{request.rule.name}: nothing waiting for {what}.")
    to_store = []
    for request in schedules:
        rule, event = request.rule, request.event
        what = f"{rule.match_key}={request.value}"
        if _is_superseded(request, later):
            notes[event.pk].append(f"{rule.name}: not scheduled; a later event for {what} already arrived.")
            continue
        existing = [pk for pk, _ in waiting.get(request.slot, []) if pk not in cancelled]
        if existing and not rule.replace_waiting:
            notes[event.pk].append(f"{rule.name}: not scheduled; #{existing[0]} already waits for {what}.")
            continue
        for pk in existing:
            cancelled[pk] = f"Replaced by a newer {event.type} (event #{event.pk})."
        if existing:
            notes[event.pk].append(f"{rule.name}: replaces the waiting send #{', #'.join(map(str, existing))}.")
        to_store.append(dataclasses.replace(request, item=dataclasses.replace(request.item, trigger_key=request.key)))
    if cancelled:
        Notification.objects.filter(pk__in=list(cancelled), status=NotificationStatus.SCHEDULED).update(
            status=NotificationStatus.CANCELLED,
            status_reason=Case(
                *(When(pk=pk, then=Value(reason)) for pk, reason in cancelled.items()), output_field=CharField()
            ),
            updated_at=now,
        )
    return to_store


def _later_events(schedules: list[_Keyed]) -> dict[tuple[str, str, str], list[tuple[str, datetime, int]]]:
    """(user, match key, value) -> [(type, occurred_at, id)] of events that could supersede a schedule."""
    found: dict[tuple[str, str, str], list[tuple[str, datetime, int]]] = defaultdict(list)
    by_match_key: dict[str, list[_Keyed]] = defaultdict(list)
    for request in schedules:
        by_match_key[request.rule.match_key].append(request)
    for match_key, requests in by_match_key.items():
        types = {t for r in requests for t in [*r.rule.cancel_on, r.rule.event_type]}
        rows = (
            Event.objects.filter(user_id__in={r.event.user_id for r in requests}, type__in=types)
            .annotate(value=KT("data__" + match_key.replace(".", "__")))
            .filter(value__in={r.value for r in requests})
            .values_list("user_id", "value", "type", "occurred_at", "pk")
        )
        for user_id, value, event_type, occurred_at, pk in rows:
            found[(user_id, match_key, value)].append((event_type, occurred_at, pk))
    return found


def _is_superseded(request: _Keyed, later: dict[tuple[str, str, str], list[tuple[str, datetime, int]]]) -> bool:
    """A cancelling event at or after this one, or (if newer ones replace) a later one of the same type."""
    rule, event = request.rule, request.event
    for event_type, occurred_at, pk in later.get((event.user_id, rule.match_key, request.value), []):
        if pk == event.pk:
            continue
        if event_type in rule.cancel_on and occurred_at >= event.occurred_at:
            return True
        newer = (occurred_at, pk) > (event.occurred_at, event.pk)
        if event_type == rule.event_type and rule.replace_waiting and newer:
            return True
    return False


def _waiting_sends(requests: list[_Keyed]) -> dict[tuple[str, str], list[tuple[int, datetime]]]:
    """(user, trigger key) -> [(notification id, when its event occurred)] of the sends still waiting."""
    rows = list(
        Notification.objects.filter(
            status=NotificationStatus.SCHEDULED,
            user_id__in={r.event.user_id for r in requests},
            trigger_key__in={r.key for r in requests},
        ).values_list("pk", "user_id", "trigger_key", "source_ref")
    )
    started = dict(Event.objects.filter(pk__in=[int(ref) for *_, ref in rows]).values_list("pk", "occurred_at"))
    waiting: dict[tuple[str, str], list[tuple[int, datetime]]] = defaultdict(list)
    for pk, user_id, key, ref in rows:
        waiting[(user_id, key)].append((pk, started[int(ref)]))
    return waiting


def _lock(requests: list[_Keyed]) -> None:
    keys = sorted({f"{r.event.user_id} {r.key}" for r in requests})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(h) FROM "
            "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS k ORDER BY h) AS keys",
            [keys],
        )


def trigger_key(rule: TriggerRule, value: Any) -> str:
    return f"rule-{rule.pk}:{rule.match_key}={as_text(value)}"[:255]


def _describe(rule: TriggerRule, notification: Stored) -> str:
    if notification.state.status == NotificationStatus.FAILED:
        return f"{rule.name}: notification #{notification.pk} failed: {notification.state.status_reason}"
    if notification.state.status == NotificationStatus.SCHEDULED:
        when = notification.item.send_at
        return f"{rule.name}: notification #{notification.pk} waits until {when:%Y-%m-%d %H:%M:%S} UTC."
    return f"{rule.name}: notification #{notification.pk} sent to the workers."
