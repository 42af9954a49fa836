"""Reading events and rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from events import conditions
from events.models import Event, TriggerRule
from notifications.models import Notification, Source


@dataclass
class ActiveRules:
    """The active rules, read once per batch of events, conditions parsed."""

    by_type: dict[str, list[TriggerRule]] = field(default_factory=lambda: defaultdict(list))
    cancelled_by: dict[str, list[TriggerRule]] = field(default_factory=lambda: defaultdict(list))
    parsed: dict[int, list[conditions.Condition]] = field(default_factory=dict)


def active_rules() -> ActiveRules:
    rules = ActiveRules()
    for rule in (
        TriggerRule.objects.filter(is_active=True).select_related("template").prefetch_related("template__translations")
    ):
        rules.by_type[rule.event_type].append(rule)
        rules.parsed[rule.pk] = conditions.parse(rule.conditions)
        for event_type in rule.cancel_on:
            rules.cancelled_by[event_type].append(rule)
    return rules


def notifications_of_event(event: Event):
    return (
        Notification.objects.filter(source=Source.EVENT, source_ref=str(event.pk))
        .select_related("content")
        .order_by("pk")
    )


def why_no_rule(events: Iterable[Event]) -> dict[int, str]:
    """Why each event matched no rule, by the rules active now: none of its type, or the condition each one missed.

    The event's stored outcome says only that no rule matched when it was processed; this names what the rules
    (as they are now: one query for all the events' types) would have needed.
    """
    events = list(events)
    if not events:
        return {}
    rules: dict[str, list[tuple[str, list[conditions.Condition]]]] = defaultdict(list)
    for name, event_type, text in TriggerRule.objects.filter(
        is_active=True, event_type__in={e.type for e in events}
    ).values_list("name", "event_type", "conditions"):
        rules[event_type].append((name, conditions.parse(text)))
    why = {}
    for event in events:
        missed = []
        for name, parsed in rules.get(event.type, []):
            condition = next((c for c in parsed if not c.matches(event.data)), None)
            if condition is not None:
                found = conditions.lookup(event.data, condition.field)
                told = "absent" if found is conditions.ABSENT else conditions.as_text(found)
                missed.append(f"'{name}' needs {_condition_text(condition)} (this event's {condition.field}: {told})")
        if missed:
            why[event.pk] = f"By the rules active now: {'; '.join(missed)}."
        elif not rules.get(event.type):
            why[event.pk] = f"No active rule handles '{event.type}' events."
        else:  # a rule matches now: it was off, or its conditions changed, when the event came
            why[event.pk] = "A rule active now would match it: it was switched off or written differently then."
    return why


def _condition_text(condition: conditions.Condition) -> str:
    """A condition as the marketer wrote it: 'status in cancelled, delayed', 'coupon exists'."""
    return " ".join([condition.field, condition.op, ", ".join(condition.values)]).strip()
