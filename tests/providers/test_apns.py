"""APNs over HTTP/2 + TLS with a provider-token JWT, through aioapns, against the simulator."""

from __future__ import annotations

from providers.base import OutcomeKind, Priority, PushMessage, PushTarget, SendRequest
from providers.payloads import APNS_MAX_BYTES

from .conftest import send_with

MESSAGE = PushMessage(
    title="Back in stock",
    body="Oat milk is back",
    deep_link="shop://product/123",
    collapse_key="restock-123",
    priority=Priority.NORMAL,
    ttl_seconds=3600,
)


def test_apns_answers_map_to_outcomes(sim):
    tokens = ["ok-apns-1", "unregistered-apns-1", "invalid-apns-1", "unavailable-apns-1", "quota-apns-1"]
    outcomes = send_with(
        "apns",
        [
            SendRequest(PushTarget(t), MESSAGE, delivery_id=f"{i:08d}-0000-4000-8000-000000000000")
            for i, t in enumerate(tokens)
        ],
    )
    assert [(o.kind, o.code) for o in outcomes] == [
        (OutcomeKind.DELIVERED, ""),
        (OutcomeKind.TOKEN_INVALID, "Unregistered"),
        (OutcomeKind.TOKEN_INVALID, "BadDeviceToken"),
        (OutcomeKind.RETRY, "ServiceUnavailable"),
        (OutcomeKind.RETRY, "TooManyRequests"),
    ]
    assert outcomes[0].message_id == "00000000-0000-4000-8000-000000000000"  # our apns-id, echoed


def test_apns_request_carries_the_mapped_headers_and_payload(sim):
    send_with("apns", [SendRequest(PushTarget("ok-apns-2"), MESSAGE)])
    [received] = sim.messages("ok-apns-2")
    headers = received["headers"]
    assert headers["apns-priority"] == "5"
    assert headers["apns-collapse-id"] == "restock-123"
    assert headers["apns-push-type"] == "alert"
    assert int(headers["apns-expiration"]) > 0
    assert received["payload"]["aps"]["alert"] == {"title": "Back in stock", "body": "Oat milk is back"}
    assert received["payload"]["deep_link"] == "shop://product/123"


def test_oversized_apns_payload_is_refused_before_sending(sim):
    [outcome] = send_with(
        "apns", [SendRequest(PushTarget("ok-apns-3"), PushMessage(title="t", body="x" * APNS_MAX_BYTES))]
    )
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, "payload_too_large")
    assert sim.messages("ok-apns-3") == []


def test_a_key_apns_does_not_know_is_a_provider_error(sim, provider_settings, foreign_apns_key):
    provider_settings.APNS_KEY_FILE = str(foreign_apns_key)
    [outcome] = send_with("apns", [SendRequest(PushTarget("ok-apns-4"), MESSAGE)])
    assert (outcome.kind, outcome.code) == (OutcomeKind.PROVIDER_ERROR, "InvalidProviderToken")
