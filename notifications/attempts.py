"""The attempt log as its readers see it: the attempt rows, and the first-try successes the delivery rows tell.

A push delivered at its first attempt (95% of them) gets no DeliveryAttempt row (notifications.writes): its
delivery says attempts 1, status delivered, when (updated_at) and the provider's id, which is that attempt. Every other
attempt (a failure, a retry, a later success, a provider's refusal that spent no attempt) has its row. Readers
that list or count attempts (the admin's delivery pages, analytics) read both through this module, so that they
show and count what they did when every attempt had a row.
"""

from __future__ import annotations

from config.partitions import taken_since_day_of_sql
from notifications.models import Delivery, DeliveryAttempt, DeliveryStatus
from providers.base import OutcomeKind

A = DeliveryAttempt._meta.db_table
D = Delivery._meta.db_table
DELIVERED = OutcomeKind.DELIVERED.value


def first_try_success(status: str, attempts: int) -> bool:
    """A delivery whose only attempt delivered it: the delivery row is its attempt."""
    return status == DeliveryStatus.DELIVERED and attempts == 1


# The attempt log as a relation (id, delivery_id, number, sent_at, outcome, provider_code, provider_text): the
# rows, then one per first-try success, when it was delivered (its updated_at), with the delivery's id negated as
# its id (unique, and ordered as the rows are by (sent_at, id) in analytics). PostgreSQL pushes a condition on it
# into both branches (deliveries by updated_at: delivery_updated_brin; by id: their primary key).
ATTEMPT_LOG = f"""(
    SELECT id, delivery_id, number, sent_at, outcome, provider_code, provider_text FROM {A}
    UNION ALL
    SELECT -id, id, 1, updated_at, '{OutcomeKind.DELIVERED.value}', last_error_code, last_error_text FROM {D}
    WHERE status = '{DeliveryStatus.DELIVERED}' AND attempts = 1
)"""  # noqa: S608 - table names and constants only


def delivered_attempt(delivery: str) -> str:
    """SQL to join LATERAL: the delivered attempt (sent_at, id, as in ATTEMPT_LOG) of the delivery aliased
    `delivery`: its row, or the delivery itself for a first-try success. Per delivery, each branch is one lookup
    (attempt_timeline, in the days since the delivery's; or none); joining ATTEMPT_LOG on delivery_id instead
    would scan the deliveries."""
    return f"""LATERAL (
        SELECT t.sent_at, t.id FROM {A} AS t WHERE t.delivery_id = {delivery}.id AND t.outcome = '{DELIVERED}'
          AND {taken_since_day_of_sql("t.id", f"{delivery}.id")}
        UNION ALL
        SELECT {delivery}.updated_at, -{delivery}.id
        WHERE {delivery}.status = '{DeliveryStatus.DELIVERED}' AND {delivery}.attempts = 1
    )"""  # noqa: S608 - table names, constants and the caller's alias only


def log_of(delivery: Delivery) -> list[DeliveryAttempt]:
    """A delivery's attempts in order (its attempt_log, prefetched or not), its first-try success included."""
    attempts = list(delivery.attempt_log.all())
    if first_try_success(delivery.status, delivery.attempts):
        told = DeliveryAttempt(
            delivery=delivery,
            number=1,
            sent_at=delivery.updated_at,
            outcome=OutcomeKind.DELIVERED.value,
            provider_code=delivery.last_error_code,
            provider_text=delivery.last_error_text,
            latency_ms=None,  # not kept: see notifications.writes
        )
        attempts.append(told)
        attempts.sort(key=lambda a: (a.number, a.sent_at))
    return attempts
