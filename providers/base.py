"""The one small interface between the delivery engine and every push provider.

The engine hands a provider a batch of SendRequests and gets back exactly one
Outcome per request, in the same order; each outcome is also reported as it
arrives, so that the engine can remember an accepted push before the batch ends. Provider errors never escape as
exceptions: each is classified into an OutcomeKind that tells the engine what
to do next (record, retry later, deactivate the token, give up, or pause the
whole provider because its credentials were refused).
"""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field


class Priority(enum.StrEnum):
    HIGH = "high"
    NORMAL = "normal"


@dataclass(frozen=True, slots=True)
class PushMessage:
    """A provider-neutral push: what the shopper sees and what the app receives."""

    title: str
    body: str
    image: str = ""
    deep_link: str = ""
    data: Mapping[str, str] = field(default_factory=dict)
    category: str = ""
    priority: Priority = Priority.HIGH
    ttl_seconds: int = 24 * 3600
    collapse_key: str = ""


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where to send: one device's token (and, for Web Push, its subscription keys)."""

    token: str
    web_push_p256dh: str = ""
    web_push_auth: str = ""


@dataclass(frozen=True, slots=True)
class SendRequest:
    target: PushTarget
    message: PushMessage
    # A stable id of the delivery, sent where the provider takes one (apns-id),
    # so a retried send can be matched in the provider's logs.
    delivery_id: str = ""
    # The notification's id, which every push carries (payloads.NOTIFICATION_ID_KEY) so that the app can report
    # the open. Per request, not in the message: a campaign's devices share one message per language.
    notification_id: str = ""


class OutcomeKind(enum.StrEnum):
    DELIVERED = "delivered"  # accepted by the provider; message_id says its id
    RETRY = "retry"  # try again later; retry_after is the provider's wish, if it said one
    TOKEN_INVALID = "token_invalid"  # the device is gone: deactivate it, never retry
    PERMANENT = "permanent"  # this message can't be sent as it is: give up now
    PROVIDER_ERROR = "provider_error"  # the provider refused our credentials: pause the provider


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    code: str = ""  # the provider's own code (UNREGISTERED, BadDeviceToken, 410, ...)
    text: str = ""
    message_id: str = ""
    retry_after: float | None = None
    status: int | None = None  # HTTP status, when there was an answer

    @classmethod
    def delivered(cls, message_id: str, status: int = 200) -> Outcome:
        return cls(OutcomeKind.DELIVERED, message_id=message_id, status=status)


# Told each request's outcome (its index in the batch) the moment it is known, on the provider's event loop: it
# must return at once. A request may be told twice (FCM asks again after a 401): the later outcome is its own.
OutcomeReport = Callable[[int, Outcome], None]


def _ignore(index: int, outcome: Outcome) -> None:
    pass


async def each(
    requests: Sequence[SendRequest],
    send: Callable[[SendRequest], Awaitable[Outcome]],
    report: OutcomeReport | None,
) -> list[Outcome]:
    """Every request sent concurrently by `send`, each outcome reported as it arrives; the outcomes in order."""
    told = report or _ignore

    async def one(index: int, request: SendRequest) -> Outcome:
        outcome = await send(request)
        told(index, outcome)
        return outcome

    return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))


class PushProvider(abc.ABC):
    """One push service (FCM, APNs, Web Push). One instance per worker process,
    created and used on that process's single event loop."""

    name: str

    @abc.abstractmethod
    async def send_batch(self, requests: Sequence[SendRequest], report: OutcomeReport | None = None) -> list[Outcome]:
        """Send every request, concurrently within the provider's limit; one Outcome each, each also given to
        `report` as it arrives."""

    async def close(self) -> None:  # noqa: B027 (optional for providers that hold nothing)
        """Release connections."""


class UnconfiguredProvider(PushProvider):
    """Stands in for a provider that is switched off or has no credentials, so
    that its devices' deliveries say so plainly instead of failing obscurely."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def send_batch(self, requests: Sequence[SendRequest], report: OutcomeReport | None = None) -> list[Outcome]:
        outcome = Outcome(OutcomeKind.PERMANENT, code="provider_not_configured", text=self.reason)
        return [outcome] * len(requests)  # nothing accepted: nothing to report


# The longest TTL a push can have (FCM's and Web Push's 4 weeks): a retry later than that could never be sent.
MAX_TTL_SECONDS = 28 * 24 * 3600


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), at most MAX_TTL_SECONDS.

    The header is the remote's word (a Web Push service is wherever a shopper's subscription points): "inf" or
    "1e20" must not overflow the retry's datetime, nor a huge number park it for centuries.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return min(max(0.0, seconds), MAX_TTL_SECONDS)  # NaN becomes 0.0: max() keeps its first argument
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, (when - datetime.now(UTC)).total_seconds()), MAX_TTL_SECONDS)
