"""How each provider outcome settles a delivery: its next state, when it is tried again, what else it causes.

`settle` is pure over in-memory records (it reads settings and the clock, never the database), so every row
of its table is checked here without PostgreSQL; tests/engine shows the same states written through a worker.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from notifications import settling
from notifications.models import DeliveryStatus, FailedDeliveryStatus
from notifications.records import Claimed
from notifications.settling import SentBatch
from providers.base import Outcome, OutcomeKind, PushMessage, PushTarget

MAX_ATTEMPTS = 4
PAUSE_SECONDS = 300
SENT_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def delivery_settings(settings):  # type: ignore[no-untyped-def]
    settings.DELIVERY_MAX_ATTEMPTS = MAX_ATTEMPTS
    settings.DELIVERY_PROVIDER_PAUSE_SECONDS = PAUSE_SECONDS
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 5
    settings.DELIVERY_BACKOFF_FACTOR = 2
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 600


def claimed(pk: int = 1, attempts: int = 1, token: str = "tok-1") -> Claimed:
    """A delivery as _claim hands it over: written `sending`, `attempts` counting this one."""
    return Claimed(
        pk=pk,
        notification_id=100 + pk,
        device_id=200 + pk,
        provider="fcm",
        token=token,
        attempts=attempts,
        category="order_updates",
        due_at=SENT_AT,
        ttl_seconds=3600,
        target=PushTarget(token),
        message=PushMessage(title="Order 7 is delayed", body="Now 15:00-16:00", data={"order_id": "7"}),
    )


def settle(*results: tuple[Claimed, Outcome]) -> SentBatch:
    return settling.settle(SentBatch("fcm", list(results), SENT_AT, 12, [], [], None))


def waited(item: Claimed) -> float | None:
    """Seconds from settling to the next attempt (both come from the one clock reading in settle)."""
    if item.next_attempt_at is None:
        return None
    assert item.updated_at is not None
    return (item.next_attempt_at - item.updated_at).total_seconds()


# outcome, attempts so far -> status, attempts after, (least, most) seconds to the next attempt, failure reason
TABLE = [
    pytest.param(
        Outcome.delivered("projects/p/messages/1"), 1, DeliveryStatus.DELIVERED, 1, None, None, id="delivered"
    ),
    pytest.param(
        Outcome(OutcomeKind.TOKEN_INVALID, code="UNREGISTERED"),
        1,
        DeliveryStatus.TOKEN_INVALID,
        1,
        None,
        None,
        id="token-invalid",
    ),
    pytest.param(
        Outcome(OutcomeKind.RETRY, code="UNAVAILABLE"),
        1,
        DeliveryStatus.RETRY_SCHEDULED,
        1,
        (0, 5),  # full jitter below base * factor ** 0
        None,
        id="retry-first",
    ),
    pytest.param(
        Outcome(OutcomeKind.RETRY, code="UNAVAILABLE"),
        3,
        DeliveryStatus.RETRY_SCHEDULED,
        3,
        (0, 20),  # below base * factor ** 2
        None,
        id="retry-third",
    ),
    pytest.param(
        Outcome(OutcomeKind.RETRY, code="QUOTA_EXCEEDED", retry_after=120),
        MAX_ATTEMPTS - 1,
        DeliveryStatus.RETRY_SCHEDULED,
        MAX_ATTEMPTS - 1,
        (120, 120),  # the provider's Retry-After is the least wait
        None,
        id="retry-after",
    ),
    pytest.param(
        Outcome(OutcomeKind.RETRY, code="UNAVAILABLE", text="Service unavailable"),
        MAX_ATTEMPTS,
        DeliveryStatus.FAILED,
        MAX_ATTEMPTS,
        None,
        f"Gave up after {MAX_ATTEMPTS} attempts; last answer: Service unavailable",
        id="retry-no-attempt-left",
    ),
    pytest.param(
        Outcome(OutcomeKind.RETRY, code="INTERNAL"),
        MAX_ATTEMPTS + 1,  # a requeued delivery can be past the limit
        DeliveryStatus.FAILED,
        MAX_ATTEMPTS + 1,
        None,
        f"Gave up after {MAX_ATTEMPTS + 1} attempts; last answer: INTERNAL",
        id="retry-past-the-limit",
    ),
    pytest.param(
        Outcome(OutcomeKind.PERMANENT, code="INVALID_ARGUMENT", text="Bad image URL"),
        1,
        DeliveryStatus.FAILED,
        1,
        None,
        "Bad image URL",
        id="permanent",
    ),
    pytest.param(
        Outcome(OutcomeKind.PERMANENT, code="expired"),
        2,
        DeliveryStatus.FAILED,
        2,
        None,
        "expired",  # no text: the code is the reason
        id="permanent-code-only",
    ),
    pytest.param(
        Outcome(OutcomeKind.PROVIDER_ERROR, code="THIRD_PARTY_AUTH_ERROR"),
        2,
        DeliveryStatus.RETRY_SCHEDULED,
        1,  # the provider refused us, not the message: the attempt is given back
        (PAUSE_SECONDS, PAUSE_SECONDS),
        None,
        id="provider-error",
    ),
]


@pytest.mark.parametrize(("outcome", "attempts", "status", "attempts_after", "wait", "failure"), TABLE)
def test_each_outcome_settles_the_delivery(
    outcome: Outcome,
    attempts: int,
    status: str,
    attempts_after: int,
    wait: tuple[float, float] | None,
    failure: str | None,
) -> None:
    item = claimed(attempts=attempts)
    batch = settle((item, outcome))
    assert (item.status, item.attempts) == (status, attempts_after)
    assert item.last_error_code == outcome.code
    assert item.last_error_text == outcome.text
    assert item.updated_at is not None
    if wait is None:
        assert item.next_attempt_at is None
    else:
        seconds = waited(item)
        assert seconds is not None and wait[0] <= seconds <= wait[1], seconds
    # Side effects: a failed record, a token to deactivate, a provider to pause; each only for its row.
    if failure is None:
        assert batch.failures == []
    else:
        [record] = batch.failures
        assert (record.delivery_id, record.reason, record.provider_code) == (item.pk, failure, outcome.code)
        assert record.status == FailedDeliveryStatus.OPEN and record.created_at == item.updated_at
        assert record.payload["token"] == item.token and record.payload["data"] == {"order_id": "7"}
    assert batch.invalid_tokens == ([item.token] if outcome.kind is OutcomeKind.TOKEN_INVALID else [])
    assert batch.pause is (outcome if outcome.kind is OutcomeKind.PROVIDER_ERROR else None)
    if status == DeliveryStatus.DELIVERED:
        # FCM's name of it is projects/<project>/messages/<id>: only the id is stored.
        assert item.provider_message_id == outcome.message_id.rsplit("/")[-1]
    else:
        assert item.provider_message_id == ""


def test_a_mixed_batch_settles_each_delivery_by_its_own_outcome_in_one_clock_reading() -> None:
    ok, gone, flaky, broken = (claimed(pk, token=f"tok-{pk}") for pk in (1, 2, 3, 4))
    batch = settle(
        (ok, Outcome.delivered("m-1")),
        (gone, Outcome(OutcomeKind.TOKEN_INVALID, code="Unregistered")),
        (flaky, Outcome(OutcomeKind.RETRY, code="UNAVAILABLE")),
        (broken, Outcome(OutcomeKind.PERMANENT, code="BadCollapseId")),
    )
    assert [item.status for item, _ in batch.results] == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.TOKEN_INVALID,
        DeliveryStatus.RETRY_SCHEDULED,
        DeliveryStatus.FAILED,
    ]
    assert batch.invalid_tokens == ["tok-2"]
    assert [f.delivery_id for f in batch.failures] == [4]
    assert batch.pause is None
    assert len({item.updated_at for item, _ in batch.results}) == 1


def test_provider_answers_are_cut_to_their_columns() -> None:
    item = claimed()
    settle((item, Outcome(OutcomeKind.PERMANENT, code="C" * 100, text="T" * 900)))
    assert (len(item.last_error_code), len(item.last_error_text)) == (64, 500)
    delivered = claimed(pk=2)
    settle((delivered, Outcome.delivered("M" * 300)))
    assert len(delivered.provider_message_id) == 255


@pytest.mark.parametrize(
    ("provider", "message_id", "stored"),
    [
        ("fcm", "projects/shop-prod/messages/0:1700000000%31bd1c96", "0:1700000000%31bd1c96"),  # the project is ours
        ("apns", "00000000-0000-0000-0000-000000000007", ""),  # the apns-id we set: the delivery's id
        ("apns", "6F1A9C2E-0000-4000-8000-0000000000AB", "6F1A9C2E-0000-4000-8000-0000000000AB"),  # another: kept
        ("webpush", "https://push.example/m/abc", "https://push.example/m/abc"),
    ],
)
def test_only_what_identifies_a_delivered_message_and_cannot_be_derived_is_stored(provider, message_id, stored) -> None:
    item = replace(claimed(pk=7), provider=provider)
    settle((item, Outcome.delivered(message_id)))
    assert item.provider_message_id == stored
