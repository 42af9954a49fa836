"""Web Push with VAPID and aes128gcm, through pywebpush, against the simulator."""

from __future__ import annotations

from notifications.providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest
from notifications.providers.payloads import WEBPUSH_MAX_BYTES

from .conftest import browser_subscription, send_with

MESSAGE = PushMessage(
    title="Price drop", body="Coffee beans -20%", deep_link="https://shop.example/p/9", data={"sku": "9"}
)


def target(sim, name: str) -> PushTarget:
    p256dh, auth = browser_subscription()
    return PushTarget(f"{sim.base_url}/wp/{name}", web_push_p256dh=p256dh, web_push_auth=auth)


def test_webpush_answers_map_to_outcomes(sim):
    names = ["ok-web-1", "unregistered-web-1", "invalid-web-1", "quota-web-1"]
    outcomes = send_with("webpush", [SendRequest(target(sim, n), MESSAGE) for n in names])
    assert [(o.kind, o.code) for o in outcomes] == [
        (OutcomeKind.DELIVERED, ""),
        (OutcomeKind.TOKEN_INVALID, "410"),
        (OutcomeKind.TOKEN_INVALID, "404"),
        (OutcomeKind.RETRY, "429"),
    ]
    assert outcomes[3].retry_after and outcomes[3].retry_after > 0
    [received] = sim.messages("ok-web-1")
    assert received["headers"]["content-encoding"] == "aes128gcm"
    assert received["headers"]["authorization"].startswith("vapid t=")
    assert received["headers"]["urgency"] == "high"


def test_oversized_webpush_payload_is_refused_before_sending(sim):
    big = PushMessage(title="t", body="x" * WEBPUSH_MAX_BYTES)
    [outcome] = send_with("webpush", [SendRequest(target(sim, "ok-web-2"), big)])
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, "payload_too_large")
    assert sim.messages("ok-web-2") == []
