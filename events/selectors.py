"""Reading events and rules."""

from __future__ import annotations

from collections import defaultdict
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
    return Notification.objects.filter(source=Source.EVENT, source_ref=str(event.pk)).order_by("pk")
