"""The engine's batch writes: deliveries as they ended, their attempts, failed records, verdicts, provider pauses.

Each is one statement for a whole batch (`INSERT … SELECT … FROM unnest(…)`, `UPDATE … FROM unnest(…)`, through
config.bulk_sql), in the caller's transaction. The f-strings hold only constants (table names, a status).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from config import bulk_sql
from notifications.attempts import first_try_success
from notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    FailedDelivery,
    Notification,
    NotificationStatus,
    ProviderPause,
)
from notifications.records import Claimed, Pending
from notifications.settling import SentBatch
from protection import policy
from providers.base import OutcomeKind

logger = logging.getLogger(__name__)


# One statement for all of a batch's deliveries, as they ended (Django's bulk_create cost 250 µs a row here).
_INSERT_DELIVERIES = f"""
INSERT INTO {Delivery._meta.db_table}
    (id, notification_id, device_id, provider, status, attempts, next_attempt_at,
     provider_message_id, last_error_code, last_error_text, updated_at)
SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::int[],
                         %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::timestamptz[])
"""  # noqa: S608 - only the table name is formatted in
# What an outcome sets on a delivery (Claimed's fields), in the order of _INSERT_DELIVERIES and _WRITE_STATES.
DELIVERY_STATE_COLUMNS = (
    "status",
    "attempts",
    "next_attempt_at",
    "provider_message_id",
    "last_error_code",
    "last_error_text",
    "updated_at",
)
_DELIVERY_COLUMNS = ("pk", "notification_id", "device_id", "provider", *DELIVERY_STATE_COLUMNS)


def insert_deliveries(deliveries: list[Claimed], created_at: datetime) -> None:
    if deliveries:
        for item in deliveries:
            if item.updated_at is None:  # not sent (queued or paused): written as planned
                item.updated_at = created_at
        bulk_sql.execute(_INSERT_DELIVERIES, [[getattr(d, name) for d in deliveries] for name in _DELIVERY_COLUMNS])


# One statement for every notification of a batch (deferred ones get a new send_at and what is left
# of their TTL, so that TTL still counts from when they were first due).
_WRITE_VERDICTS = f"""
UPDATE {Notification._meta.db_table} AS n SET
    status = v.status, policy = v.policy, status_reason = v.reason,
    send_at = coalesce(v.send_at, n.send_at), ttl_left_seconds = coalesce(v.ttl, n.ttl_left_seconds), updated_at = %b
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::int[])
    AS v(id, status, policy, reason, send_at, ttl)
WHERE n.id = v.id
"""  # noqa: S608 - only the table name is formatted in
STATUS_OF = {
    policy.Action.SEND: NotificationStatus.SENDING,
    policy.Action.NO_DEVICE: NotificationStatus.NO_DEVICE,
    policy.Action.DEFER: NotificationStatus.SCHEDULED,
    policy.Action.SUPPRESS: NotificationStatus.SUPPRESSED,
    policy.Action.CANCEL: NotificationStatus.CANCELLED,
}


def write_verdicts(states: list[tuple[Pending, policy.Verdict]], now: datetime) -> None:
    if not states:
        return
    bulk_sql.execute(
        _WRITE_VERDICTS,
        [
            now,
            [n.pk for n, _ in states],
            [STATUS_OF[v.action] for _, v in states],
            [v.policy for _, v in states],
            [v.reason[:500] for _, v in states],
            [v.send_at for _, v in states],
            [v.ttl_seconds for _, v in states],
        ],
    )


def write_attempts_and_failures(sent: list[SentBatch]) -> None:
    """In the caller's transaction, after the deliveries: the attempt log, failed records, provider pauses."""
    insert_attempts(sent)
    failures = [failure for batch in sent for failure in batch.failures]
    if failures:
        FailedDelivery.objects.bulk_create(
            failures,
            update_conflicts=True,
            unique_fields=["delivery"],
            update_fields=["reason", "provider_code", "payload", "status", "created_at", "resolved_at", "resolved_by"],
        )
    for batch in sent:
        if batch.pause is not None:
            pause_provider(batch.provider, f"{batch.pause.code}: {batch.pause.text}")


# One statement for a whole batch (Django's bulk_update builds a CASE per field and
# row, which cost 80% of a batch's time). Only rows still in `sending` (ours) are
# written: a row the sweep requeued meanwhile is left to its new owner.
# The f-string holds only constants (the table name, a status), never input.
_WRITE_STATES = f"""
UPDATE {Delivery._meta.db_table} AS d SET
    status = v.status, attempts = v.attempts, next_attempt_at = v.next_attempt_at,
    provider_message_id = v.provider_message_id, last_error_code = v.last_error_code,
    last_error_text = v.last_error_text, updated_at = v.updated_at
FROM unnest(%b::bigint[], %b::text[], %b::int[], %b::timestamptz[], %b::text[], %b::text[], %b::text[],
            %b::timestamptz[])
    AS v(id, status, attempts, next_attempt_at, provider_message_id, last_error_code, last_error_text, updated_at)
WHERE d.id = v.id AND d.status = '{DeliveryStatus.SENDING}'
"""  # noqa: S608


# The attempt log, one statement for a transaction's provider calls. A delivery delivered at its first attempt gets
# no row: its own row says it all (attempts 1, delivered at updated_at, the provider's id), and
# notifications.attempts reads it as that attempt. Only the provider call's latency is not kept for it: the same for
# the call's whole batch, it is the pushcart_provider_call_seconds histogram's.
_INSERT_ATTEMPTS = f"""
INSERT INTO {DeliveryAttempt._meta.db_table}
    (delivery_id, number, sent_at, outcome, provider_code, provider_text, latency_ms)
SELECT * FROM unnest(%b::bigint[], %b::int[], %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::int[])
"""  # noqa: S608 - only the table name is formatted in


def insert_attempts(sent: list[SentBatch]) -> None:
    rows = [
        (batch, item, outcome)
        for batch in sent
        for item, outcome in batch.results
        if not first_try_success(item.status, item.attempts)
    ]
    if not rows:
        return
    bulk_sql.execute(
        _INSERT_ATTEMPTS,
        [
            [item.pk for _, item, _ in rows],
            [item.attempts + (1 if o.kind is OutcomeKind.PROVIDER_ERROR else 0) for _, item, o in rows],
            [batch.sent_at for batch, _, _ in rows],
            [o.kind.value for _, _, o in rows],
            [o.code[:64] for _, _, o in rows],
            [o.text[:500] for _, _, o in rows],
            [batch.latency_ms for batch, _, _ in rows],
        ],
    )


def write_states(deliveries: list[Claimed]) -> None:
    columns = ("pk", *DELIVERY_STATE_COLUMNS)
    bulk_sql.execute(_WRITE_STATES, [[getattr(d, name) for d in deliveries] for name in columns])


def resume_providers(providers: list[str]) -> None:
    """Lift pauses (the credentials were fixed): the postponed deliveries are due at once."""
    ProviderPause.objects.filter(provider__in=providers).delete()
    Delivery.objects.filter(status=DeliveryStatus.RETRY_SCHEDULED, provider__in=providers).update(
        next_attempt_at=timezone.now()
    )


def pause_provider(provider: str, reason: str) -> None:
    until = timezone.now() + timedelta(seconds=settings.DELIVERY_PROVIDER_PAUSE_SECONDS)
    ProviderPause.objects.update_or_create(provider=provider, defaults={"paused_until": until, "reason": reason[:500]})
    logger.error("Sending on %s paused until %s: %s", provider, until.isoformat(), reason)
