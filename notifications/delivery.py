"""The sending path: notifications → deliveries → provider batches → recorded outcomes.

A batch of pending notifications is judged and sent in one transaction that keeps them locked
(FOR UPDATE) while their pushes go out. When the providers have answered, each delivery is written
once, in its final state, with its attempt, and the notifications with theirs: a push sent at the
first try costs no row written twice. Retries and requeued deliveries are claimed by a conditional
update and their outcomes written conditionally too (only from the state the step expects), so a
redelivered task, the sweep and a second worker skip what another has already claimed or sent.

A batch whose transaction rolls back (its worker died, PostgreSQL failed before the commit) leaves its
notifications `pending` again, and the redelivered task or the sweep sends them once more. Each push a
provider accepted was written to a ledger in Redis as its answer arrived (notifications.ledger): the batch
sent again settles those as delivered instead of sending them. What still goes twice is what the ledger
had not been told when the worker died (answers on the wire, the last few milliseconds). Shopper protection
counts by notification id, so judging them again counts nothing twice. A retry's deliveries are claimed
(committed `sending`) before they go out: if their outcomes can't be written, the sweep requeues them after
DELIVERY_STUCK_AFTER_SECONDS, and the ledger again keeps what was accepted from going twice.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config import bulk_sql
from devices.services import deactivate_tokens
from devices.token_cache import DeviceTarget, tokens_for_users
from notifications import ledger, metrics, rate_limit, settling, writes
from notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationContent,
    NotificationStatus,
    ProviderPause,
    Source,
)
from notifications.records import (
    CONTENT_COLUMNS,
    ITEM_COLUMNS,
    JSON_COLUMNS,
    ON_NOTIFICATION,
    Claimed,
    Content,
    NewNotification,
    Pending,
    Settled,
    content_from_row,
    item_from_row,
    localized_message,
)
from notifications.store import store_notifications
from protection import policy
from protection.policy import Action
from providers.base import PushMessage, PushTarget

logger = logging.getLogger(__name__)

CLAIMABLE = (DeliveryStatus.QUEUED, DeliveryStatus.RETRY_SCHEDULED)


# --- Notifications → deliveries -------------------------------------------------------


def process_notifications(
    notification_ids: Iterable[int], *, waiting: Sequence[str] = (), limit: int = 0
) -> dict[str, int]:
    """Judge pending notifications, send them to their users' devices and write it all at once (the worker's task).

    With `waiting` categories, other pending notifications of those categories are taken too, oldest first,
    up to `limit` in all. One transaction holds the notifications locked while their pushes go out, then
    writes each delivery in its final state (see the module's docstring for what a worker's death costs).
    """
    with transaction.atomic():
        notifications = _lock_pending(notification_ids, waiting, limit)
        if not notifications:
            return {}
        sending = _judge(notifications)
        sending.send()
        sending.write_deliveries()
        writes.write_verdicts(sending.states, timezone.now())
    outcomes = sending.finish()
    if waiting:
        outcomes["taken"] = len(notifications)  # a full batch: more may be waiting
    return outcomes


def send_new(items: Sequence[NewNotification], ids: Sequence[int]) -> Sending:
    """Judge and send notifications not yet written, then write them in the state they ended in.

    For a campaign's batch (campaigns.batches): each shopper's notification is written once, already
    sent or held back, instead of written pending and updated. `ids` were taken for them beforehand, so
    that judging them again after a worker died counts nobody twice. Runs in the caller's transaction;
    call `finish()` on the result once it has committed.
    """
    now = timezone.now()
    sending = _judge([Pending(pk, item, now) for pk, item in zip(ids, items, strict=True) if not item.failure])
    sending.send()
    verdicts = {n.pk: verdict for n, verdict in sending.states}
    settled = []
    written = []
    for pk, item in zip(ids, items, strict=True):
        if item.failure:  # its template could not be rendered for this shopper
            settled.append(Settled(NotificationStatus.FAILED, status_reason=item.failure))
        else:
            verdict = verdicts[pk]
            if verdict.action == Action.DEFER:  # its content stays the one its variant's shoppers share
                item = replace(item, send_at=verdict.send_at, ttl_left_seconds=verdict.ttl_seconds)
            settled.append(Settled(writes.STATUS_OF[verdict.action], verdict.policy, verdict.reason))
        written.append(item)
    store_notifications(written, ids=ids, settled=settled)
    sending.write_deliveries()
    return sending


@dataclass
class Sending:
    """A batch of notifications judged, with the deliveries they make (ids taken) and, once sent, the outcomes."""

    now: datetime
    deliveries: list[Claimed]
    to_send: list[Pending]
    without_device: list[Pending]
    held_back: list[tuple[Pending, policy.Verdict]]
    # What the ledger holds of this batch's pushes: sent before, by a try whose transaction rolled back.
    remembered: dict[ledger.Key, str] = field(default_factory=dict)
    sent: list[settling.SentBatch] = field(default_factory=list)

    @property
    def states(self) -> list[tuple[Pending, policy.Verdict]]:
        """Every notification of the batch, with the verdict that sets its new state."""
        return [*((n, _SEND) for n in self.to_send), *((n, _NO_DEVICE) for n in self.without_device), *self.held_back]

    def send(self) -> None:
        """Send the claimed deliveries in provider batches, keeping each batch's outcomes (nothing is written yet)."""
        by_provider: dict[str, list[Claimed]] = defaultdict(list)
        for item in self.deliveries:
            if item.status == DeliveryStatus.SENDING:
                by_provider[item.provider].append(item)
        size = settings.DELIVERY_SEND_BATCH
        # All the batches are started before any is waited for: a slow provider (or one slow push-service
        # origin) holds up the recording of this task's outcomes, not the other providers' pushes.
        self.sent.extend(
            settling.send_all(
                [
                    (provider, items[start : start + size])
                    for provider, items in by_provider.items()
                    for start in range(0, len(items), size)
                ],
                self.remembered,
            )
        )

    def write_deliveries(self) -> None:
        """In the caller's transaction, after the notifications exist: deliveries as they ended, attempts, failures."""
        writes.insert_deliveries(self.deliveries, self.now)
        writes.write_attempts_and_failures(self.sent)

    def finish(self) -> dict[str, int]:
        """After the commit: metrics, rejected tokens deactivated, deliveries that had to wait sent the queued way."""
        metrics.notifications_without_device(len(self.without_device))
        for (category, policy_code), count in Counter((n.category, v.policy) for n, v in self.held_back).items():
            metrics.notifications_held_back(category, policy_code, count)
        _after_outcomes(self.sent)
        totals = settling.counts(self.sent)
        # A rate-limited provider's deliveries.
        queued = [item.pk for item in self.deliveries if item.status == DeliveryStatus.QUEUED]
        for outcome, count in send_deliveries(queued).items():
            totals[outcome] += count
        return dict(totals)


def _judge(notifications: list[Pending]) -> Sending:
    """Judge notifications (protection.policy) and plan one delivery per active device of those sent.

    Tokens come from the Redis cache for all users at once. A notification whose user has no active
    device is marked so: it is not an error.
    """
    now = timezone.now()
    # Only order updates fill the token cache: campaigns read their (mostly uncached) shoppers once.
    fill = any(policy.is_transactional(n.category) for n in notifications)
    cached = tokens_for_users((n.user_id for n in notifications), fill=fill)
    targets = {n.pk: _targets_of(n, cached[n.user_id]) for n in notifications}
    # Pushes of this batch sent by a try that rolled back: their notifications were judged sent then, and went
    # out; judged again now (quiet hours begun meanwhile, say), they must not be held back and sent later again.
    remembered = ledger.accepted((n.pk, d.device_id) for n in notifications for d in targets[n.pk])
    sent_before = {notification_id for notification_id, _ in remembered}
    unjudged = {n.pk for n in notifications if n.item.source == Source.TEST or n.pk in sent_before}
    verdicts = policy.judge([n for n in notifications if targets[n.pk] and n.pk not in unjudged], cached, now=now)
    # A marketer's test is not protected; a notification sent before is sent (its pushes not sent again).
    verdicts.update({n.pk: _SEND for n in notifications if targets[n.pk] and n.pk in unjudged})
    to_send = [n for n in notifications if verdicts.get(n.pk, _NO_DEVICE).action == Action.SEND]
    without = [n for n in notifications if not targets[n.pk]]
    held_back = [(n, v) for n in notifications if (v := verdicts.get(n.pk)) is not None and v.action != Action.SEND]
    return Sending(
        now=now,
        deliveries=_plan_deliveries(to_send, targets, now=now),
        to_send=to_send,
        without_device=without,
        held_back=_yield_to_newer_waiting_sends(held_back),
        remembered=remembered,
    )


# Takes the batch's pending notifications with their contents, skipping any another worker holds; they stay locked
# until the transaction that sends them has written their new states.
N, C = Notification._meta.db_table, NotificationContent._meta.db_table
_READ_COLUMNS = ["id", "created_at", *ITEM_COLUMNS, *CONTENT_COLUMNS]
_SELECTED = [*(f"n.{name}" for name in ["id", "created_at", *ITEM_COLUMNS]), *(f"c.{c}" for c in CONTENT_COLUMNS)]
_READ = f"""
SELECT {", ".join(_SELECTED)}
FROM {N} AS n JOIN {C} AS c ON c.id = n.content_id
"""  # noqa: S608 - only constants are formatted in
_LOCK_PENDING = f"""{_READ}
WHERE n.id = ANY(%b::bigint[]) AND n.status = '{NotificationStatus.PENDING}'
ORDER BY n.id FOR UPDATE OF n SKIP LOCKED
"""
# The same, and other pending notifications of the given categories, oldest first, up to a batch: the task a
# stream of single sends wakes (config.wakeup) takes what the requests after its own stored meanwhile.
_LOCK_WAITING = f"""{_READ}
WHERE n.id IN (
    SELECT id FROM {N}
    WHERE status = '{NotificationStatus.PENDING}' AND (id = ANY(%b::bigint[]) OR category = ANY(%b::text[]))
    ORDER BY updated_at LIMIT %b FOR UPDATE SKIP LOCKED
)
ORDER BY n.id
"""  # noqa: S608 - only constants are formatted in


def _lock_pending(notification_ids: Iterable[int], waiting: Sequence[str] = (), limit: int = 0) -> list[Pending]:
    ids = list(notification_ids)
    if waiting:
        rows = bulk_sql.execute(_LOCK_WAITING, [ids, list(waiting), max(limit, len(ids))])
    else:
        rows = bulk_sql.execute(_LOCK_PENDING, [ids])
    # A campaign's rows share their content: one Content object for them all, its JSON decoded once (and its
    # messages rendered once per language in _plan_deliveries).
    contents: dict[tuple, Content] = {}
    notifications = []
    for values in rows:
        row = dict(zip(_READ_COLUMNS, values, strict=True))
        said = (row["content_id"], *(row[name] for name in ON_NOTIFICATION))
        content = contents.get(said)
        if content is None:
            for name in JSON_COLUMNS:
                row[name] = json.loads(row[name])
            content = contents[said] = content_from_row(row)
        notifications.append(Pending(row["id"], item_from_row(row, content), row["created_at"]))
    return notifications


def _plan_deliveries(
    notifications: list[Pending], targets: dict[int, list[DeviceTarget]], *, now: datetime
) -> list[Claimed]:
    """One delivery per device, its id taken: `sending` (first attempt) if claimed, unless its provider must wait."""
    paused = dict(ProviderPause.objects.filter(paused_until__gt=now).values_list("provider", "paused_until"))
    items: list[Claimed] = []
    messages: dict[tuple, PushMessage] = {}  # a campaign's devices share one message per language
    for notification in notifications:
        for device in targets[notification.pk]:
            # A campaign's rows share one Content (see _lock_pending): one message per content and language.
            key = (id(notification.content), device.locale)
            message = messages.get(key)
            if message is None:
                message = messages[key] = localized_message(notification.content, device.locale)
            provider = device.provider
            if provider in paused:
                status, attempts, wait = DeliveryStatus.RETRY_SCHEDULED, 0, paused[provider]
            elif not settings.PROVIDER_RATE_LIMITS.get(provider):
                status, attempts, wait = DeliveryStatus.SENDING, 1, None
            else:
                status, attempts, wait = DeliveryStatus.QUEUED, 0, None
            items.append(
                Claimed(
                    pk=0,
                    notification_id=notification.pk,
                    device_id=device.device_id,
                    provider=provider,
                    token=device.token,
                    attempts=attempts,
                    category=notification.category,
                    due_at=notification.due_at,
                    ttl_seconds=notification.ttl_seconds,
                    target=PushTarget(device.token, device.web_push_p256dh, device.web_push_auth),
                    message=message,
                    status=status,
                    next_attempt_at=wait,
                )
            )
    if items:
        for item, pk in zip(items, bulk_sql.take_ids(Delivery, len(items)), strict=True):
            item.pk = pk
    return items


_SEND = policy.Verdict(action=Action.SEND)
_NO_DEVICE = policy.Verdict(Action.NO_DEVICE)


def _targets_of(notification: Pending, devices: list[DeviceTarget]) -> list[DeviceTarget]:
    if notification.item.target_device_id is None:
        return devices
    return [d for d in devices if d.device_id == notification.item.target_device_id]


def _yield_to_newer_waiting_sends(
    held_back: list[tuple[Pending, policy.Verdict]],
) -> list[tuple[Pending, policy.Verdict]]:
    """A deferred rule send (an abandoned-cart reminder) whose key a newer waiting send took meanwhile is cancelled.

    Only one send may wait per user and trigger key; the newer one has the fresher content.
    """
    keyed = [n for n, v in held_back if v.action == Action.DEFER and n.item.trigger_key]
    if not keyed:
        return held_back
    taken = {
        (user_id, key): pk
        for pk, user_id, key in Notification.objects.filter(
            status=NotificationStatus.SCHEDULED,
            user_id__in={n.user_id for n in keyed},
            trigger_key__in={n.item.trigger_key for n in keyed},
        ).values_list("pk", "user_id", "trigger_key")
    }
    result = []
    for notification, verdict in held_back:
        newer = (
            taken.get((notification.user_id, notification.item.trigger_key)) if verdict.action == Action.DEFER else None
        )
        if newer is not None:
            verdict = policy.Verdict(Action.CANCEL, reason=f"Replaced by the newer waiting send #{newer}.")
        result.append((notification, verdict))
    return result


def send_deliveries(delivery_ids: Sequence[int]) -> dict[str, int]:
    """Send due deliveries (retries, requeued ones) through their providers in batches; counts by outcome."""
    if not delivery_ids:
        return {}
    totals: dict[str, int] = defaultdict(int)
    by_provider: dict[str, list[int]] = defaultdict(list)
    for pk, provider in Delivery.objects.filter(pk__in=list(delivery_ids), status__in=CLAIMABLE).values_list(
        "pk", "provider"
    ):
        by_provider[provider].append(pk)
    batch = settings.DELIVERY_SEND_BATCH
    for provider, ids in by_provider.items():
        for start in range(0, len(ids), batch):
            for outcome, count in _send_batch(provider, ids[start : start + batch]).items():
                totals[outcome] += count
    return dict(totals)


def _send_batch(provider: str, ids: list[int]) -> dict[str, int]:
    pause = ProviderPause.objects.filter(provider=provider, paused_until__gt=timezone.now()).first()
    if pause is not None:
        postponed = Delivery.objects.filter(pk__in=ids, status__in=CLAIMABLE).update(
            status=DeliveryStatus.RETRY_SCHEDULED, next_attempt_at=pause.paused_until, updated_at=timezone.now()
        )
        return {"paused": postponed}
    # Wait for the shared rate limit before claiming, so a long wait never
    # leaves claimed deliveries looking stuck.
    rate_limit.wait_for(provider, len(ids))
    claimed = _claim(ids)
    if not claimed:
        return {}
    return _send_claimed(provider, claimed)


def _send_claimed(provider: str, claimed: list[Claimed]) -> dict[str, int]:
    """Send claimed deliveries (already written `sending`) and record every outcome."""
    sent = settling.send_all([(provider, claimed)])
    with transaction.atomic():
        writes.write_states([item for batch in sent for item, _ in batch.results])
        writes.write_attempts_and_failures(sent)
    _after_outcomes(sent)
    return dict(settling.counts(sent))


def _after_outcomes(sent: list[settling.SentBatch]) -> None:
    """Once the outcomes are committed: tokens the providers rejected are deactivated, and metrics counted."""
    invalid_tokens = [token for batch in sent for token in batch.invalid_tokens]
    if invalid_tokens:
        deactivate_tokens(invalid_tokens)
    now = timezone.now()
    for batch in sent:
        metrics.record_batch(batch.provider, batch.results, now, batch.latency_ms)


_CLAIM_FIELDS = (
    "pk",
    "attempts",
    "device__token",
    "provider",
    "notification_id",
    "device_id",
    "device__web_push_p256dh",
    "device__web_push_auth",
    "device__locale",
    "notification__send_at",
    "notification__created_at",
    "notification__ttl_left_seconds",
    *(f"notification__{name}" for name in ON_NOTIFICATION),
    *(f"notification__content__{name}" for name in CONTENT_COLUMNS),
)


def _claim(ids: list[int]) -> list[Claimed]:
    """Move due deliveries to `sending` (one attempt more); skip any another worker holds."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ids, status__in=CLAIMABLE)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=due).update(
            status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, updated_at=now
        )
    claimed = []
    for row in Delivery.objects.filter(pk__in=due).values(*_CLAIM_FIELDS):
        content = Content(
            **{name: row[f"notification__content__{name}"] for name in CONTENT_COLUMNS},
            **{name: row[f"notification__{name}"] for name in ON_NOTIFICATION},
        )
        ttl_left = row["notification__ttl_left_seconds"]
        token = row["device__token"]
        claimed.append(
            Claimed(
                pk=row["pk"],
                notification_id=row["notification_id"],
                device_id=row["device_id"],
                provider=row["provider"],
                token=token,
                attempts=row["attempts"],
                category=content.category,
                due_at=row["notification__send_at"] or row["notification__created_at"],
                ttl_seconds=content.ttl_seconds if ttl_left is None else ttl_left,
                target=PushTarget(token, row["device__web_push_p256dh"], row["device__web_push_auth"]),
                message=localized_message(content, row["device__locale"]),
            )
        )
    return claimed
