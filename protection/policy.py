"""Shopper protection: the one check every notification passes before its deliveries are made.

In this order, for a user with at least one active device:
1. opted out of the category (mandatory categories can't be) → suppressed;
2. a marketing push inside the user's quiet hours → deferred to their end, or suppressed if
   its TTL runs out first (transactional pushes are never deferred);
3. de-duplication and frequency caps, in one atomic Redis step per user (protection.frequency):
   the same push (template and collapse key) within its window → suppressed; a marketing push
   over any cap (the admin's caps plus the notification's own stricter ones) → suppressed.
Every verdict that holds a push back carries its reason, written on the notification.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.utils import timezone

from devices.token_cache import DeviceTarget
from preferences.selectors import EffectivePreference, active_caps, preferences_for, zone_of
from protection import frequency
from protection.outcomes import Judged, PolicyOutcome
from protection.quiet_hours import QuietHours, quiet_until


class Action(StrEnum):
    """What becomes of a notification."""

    SEND = "send"
    DEFER = "defer"  # to the end of the shopper's quiet hours
    SUPPRESS = "suppress"
    # Not the policy's own verdicts, but the engine's, written the same way:
    CANCEL = "cancel"  # a deferral that would clash with a newer waiting send
    NO_DEVICE = "no_device"  # the shopper has no active device


@dataclass(frozen=True)
class Verdict:
    action: Action
    policy: str = ""  # PolicyOutcome, for Action.DEFER and Action.SUPPRESS
    reason: str = ""
    send_at: datetime | None = None  # DEFER: the end of the quiet hours
    ttl_seconds: int | None = None  # DEFER: what is left of the TTL then


def is_transactional(category: str) -> bool:
    return settings.NOTIFICATION_CATEGORIES.get(category) == "transactional"


def judge(
    notifications: Sequence[Judged],
    devices: Mapping[str, Sequence[DeviceTarget]],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> dict[int, Verdict]:
    """A verdict for each notification (all of whose users have devices); counts the ones allowed through.

    `dry_run`: the same verdicts, but nothing is counted against the caps and no de-duplication key is
    taken: what the sender would decide now, for a campaign's launch review (campaigns.review).
    """
    now = now or timezone.now()
    preferences = preferences_for(n.user_id for n in notifications)
    # Only marketing pushes are capped: a batch of order updates needs no caps read.
    caps = active_caps() if not all(is_transactional(n.category) for n in notifications) else []
    verdicts: dict[int, Verdict] = {}
    candidates: list[frequency.Candidate] = []
    for notification in notifications:
        preference = preferences[notification.user_id]
        transactional = is_transactional(notification.category)
        if not preference.wants(notification.category):
            verdicts[notification.pk] = Verdict(
                Action.SUPPRESS,
                PolicyOutcome.OPTED_OUT,
                f"The shopper switched off '{notification.category}' notifications.",
            )
            continue
        if not transactional and preference.quiet_hours_enabled:
            deferral = _quiet_hours(notification, preference, devices.get(notification.user_id, ()), now)
            if deferral is not None:
                verdicts[notification.pk] = deferral
                continue
        own_caps = [tuple(cap) for cap in notification.frequency_caps or []]
        candidates.append(
            frequency.Candidate(
                notification.pk,
                notification.user_id,
                caps=[] if transactional else [*caps, *own_caps],
                dedup_key=notification.dedup_key,
                dedup_seconds=notification.dedup_seconds,
            )
        )
    for candidate, decision in _decided(candidates, dry_run=dry_run):
        if decision.allowed:
            verdicts[candidate.notification_id] = Verdict(Action.SEND)
        elif decision.duplicate_of is not None:
            verdicts[candidate.notification_id] = Verdict(
                Action.SUPPRESS,
                PolicyOutcome.DUPLICATE,
                f"The same push (#{decision.duplicate_of}) went to this shopper less than "
                f"{_duration(candidate.dedup_seconds)} ago.",
            )
        else:
            window, maximum = decision.cap or (0, 0)
            verdicts[candidate.notification_id] = Verdict(
                Action.SUPPRESS,
                PolicyOutcome.CAPPED,
                f"Frequency cap reached: {maximum} marketing push(es) per {_duration(window)}.",
            )
    return verdicts


def _decided(
    candidates: list[frequency.Candidate], *, dry_run: bool = False
) -> list[tuple[frequency.Candidate, frequency.Decision]]:
    if not candidates:
        return []
    decisions = frequency.decide(candidates, dry_run=dry_run)
    return [(c, decisions[c.notification_id]) for c in candidates]


def _quiet_hours(
    notification: Judged,
    preference: EffectivePreference,
    devices: Sequence[DeviceTarget],
    now: datetime,
) -> Verdict | None:
    zone_name = preference.timezone or next((d.timezone for d in devices if d.timezone), "")
    hours = QuietHours(preference.quiet_hours_start, preference.quiet_hours_end, zone_of(zone_name))
    until = quiet_until(hours, now)
    if until is None:
        return None
    expires = notification.due_at + timedelta(seconds=notification.ttl_seconds)
    if until >= expires:
        return Verdict(
            Action.SUPPRESS,
            PolicyOutcome.QUIET_HOURS_EXPIRED,
            f"Quiet hours ({hours.describe()}) end after the push's TTL runs out.",
        )
    local_end = until.astimezone(hours.zone)
    return Verdict(
        Action.DEFER,
        PolicyOutcome.QUIET_HOURS,
        f"Deferred by quiet hours ({hours.describe()}) to {local_end:%Y-%m-%d %H:%M} local time.",
        send_at=until,
        ttl_seconds=int((expires - until).total_seconds()),
    )


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return "day" if days == 1 else f"{days} days"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{seconds} s"
