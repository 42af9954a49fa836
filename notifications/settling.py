"""A provider batch in flight, and each delivery's new state settled from its outcome (nothing written here)."""

from __future__ import annotations

import concurrent.futures
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from devices.models import Provider
from notifications import ledger
from notifications.backoff import retry_delay
from notifications.models import DeliveryStatus, FailedDelivery, FailedDeliveryStatus
from notifications.records import Claimed, apns_id
from providers.base import Outcome, OutcomeKind
from providers.payloads import collapse_identity
from providers.runtime import runtime


@dataclass
class SentBatch:
    """One provider call's outcomes, settled into each delivery's new state (not yet written)."""

    provider: str
    results: list[tuple[Claimed, Outcome]]
    sent_at: datetime
    latency_ms: int
    failures: list[FailedDelivery]
    invalid_tokens: list[str]
    pause: Outcome | None


def send_all(
    batches: Sequence[tuple[str, list[Claimed]]], remembered: dict[ledger.Key, str] | None = None
) -> list[SentBatch]:
    """Send provider batches together (skipping deliveries past their TTL) and settle each delivery's new state.

    Each push a provider accepts is written to the ledger as it arrives (notifications.ledger); a push the ledger
    already holds (its batch was sent before and rolled back) is settled as delivered without being sent again.
    `remembered`: what the ledger holds of these deliveries, if the caller has looked it up already.
    """
    if remembered is None:
        remembered = ledger.accepted(ledger.key_of(item) for _, items in batches for item in items)
    recorder = ledger.Recorder()
    again, flights = [], []
    for provider, items in batches:
        known = [item for item in items if ledger.key_of(item) in remembered]
        if known:
            outcomes = [(item, Outcome.delivered(remembered[ledger.key_of(item)])) for item in known]
            again.append(settle(SentBatch(provider, outcomes, timezone.now(), 0, [], [], None)))
        fresh = [item for item in items if ledger.key_of(item) not in remembered] if known else items
        if fresh:
            flights.append(start(provider, fresh, recorder))
    recorder.wait([flight.outcomes for flight in flights])
    return [*again, *(landed(flight) for flight in flights)]


@dataclass
class InFlight:
    """A provider batch started (runtime.start) and not yet settled."""

    provider: str
    fresh: list[Claimed]
    expired: list[Claimed]
    sent_at: datetime
    started: float  # time.perf_counter()
    outcomes: concurrent.futures.Future[list[Outcome]]
    answered: float = 0.0  # time.perf_counter() when the last outcome came


def start(provider: str, claimed: list[Claimed], recorder: ledger.Recorder) -> InFlight:
    fresh, expired = [], []
    now = timezone.now()
    for item in claimed:
        age = (now - item.due_at).total_seconds()
        (expired if age > item.ttl_seconds else fresh).append(item)
    sent_at, started = timezone.now(), time.perf_counter()
    outcomes = runtime.start(provider, [item.request for item in fresh], recorder.reporter(fresh))
    flight = InFlight(provider, fresh, expired, sent_at, started, outcomes)
    flight.outcomes.add_done_callback(lambda _: setattr(flight, "answered", time.perf_counter()))
    return flight


def landed(flight: InFlight) -> SentBatch:
    """Wait for a started batch's outcomes and settle each delivery's new state."""
    outcomes = flight.outcomes.result()
    latency_ms = int((max(flight.answered, flight.started) - flight.started) * 1000)
    expired_outcome = Outcome(
        OutcomeKind.PERMANENT, code="expired", text="The notification's TTL ran out before it could be sent."
    )
    results = [*zip(flight.fresh, outcomes, strict=True), *((item, expired_outcome) for item in flight.expired)]
    return settle(SentBatch(flight.provider, results, flight.sent_at, latency_ms, [], [], None))


def settle(batch: SentBatch) -> SentBatch:
    """Each delivery's new state from its outcome; failed records, tokens to deactivate, a provider to pause."""
    now = timezone.now()
    max_attempts = settings.DELIVERY_MAX_ATTEMPTS
    for delivery, outcome in batch.results:
        delivery.updated_at = now
        delivery.last_error_code = outcome.code[:64]
        delivery.last_error_text = outcome.text[:500]
        kind = outcome.kind
        if kind is OutcomeKind.DELIVERED:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.provider_message_id = stored_message_id(delivery, outcome.message_id)[:255]
            delivery.next_attempt_at = None
        elif kind is OutcomeKind.TOKEN_INVALID:
            delivery.status = DeliveryStatus.TOKEN_INVALID
            batch.invalid_tokens.append(delivery.token)
        elif kind is OutcomeKind.PROVIDER_ERROR:
            batch.pause = outcome
            delivery.status = DeliveryStatus.RETRY_SCHEDULED
            delivery.attempts -= 1  # the provider refused us, not this message: no attempt is spent
            delivery.next_attempt_at = now + timedelta(seconds=settings.DELIVERY_PROVIDER_PAUSE_SECONDS)
        elif kind is OutcomeKind.RETRY and delivery.attempts < max_attempts:
            delivery.status = DeliveryStatus.RETRY_SCHEDULED
            delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts, outcome.retry_after))
        else:  # permanent, or retryable with no attempt left
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            reason = outcome.text or outcome.code
            if kind is OutcomeKind.RETRY:
                reason = f"Gave up after {delivery.attempts} attempts; last answer: {reason}"
            batch.failures.append(
                FailedDelivery(
                    delivery_id=delivery.pk,
                    reason=reason[:500],
                    provider_code=outcome.code[:64],
                    payload=as_sent(delivery),
                    status=FailedDeliveryStatus.OPEN,
                    created_at=now,
                )
            )
    return batch


def stored_message_id(delivery: Claimed, message_id: str) -> str:
    """What identifies a delivered message at its provider, less what is known without storing it: FCM names it
    projects/<our project>/messages/<id>, and APNs answers with the apns-id we set (records.apns_id)."""
    if delivery.provider == Provider.FCM:
        return message_id.rsplit("/", 1)[-1]
    if delivery.provider == Provider.APNS and message_id.lower() == apns_id(delivery.pk):
        return ""
    return message_id


def as_sent(item: Claimed) -> dict:
    message = item.message
    return {
        "token": item.target.token,
        "provider": item.provider,
        "title": message.title,
        "body": message.body,
        "image": message.image,
        "deep_link": message.deep_link,
        "data": dict(message.data),
        "category": message.category,
        "priority": message.priority.value,
        "ttl_seconds": message.ttl_seconds,
        "collapse_key": message.collapse_key,
        "collapse_identity": collapse_identity(message.collapse_key, str(item.notification_id)),
    }


def counts(sent: list[SentBatch]) -> defaultdict[str, int]:
    counts: defaultdict[str, int] = defaultdict(int)
    for batch in sent:
        for _, outcome in batch.results:
            counts[outcome.kind.value] += 1
    return counts
