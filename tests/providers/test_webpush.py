"""Web Push with VAPID and aes128gcm, through pywebpush, against the simulator."""

from __future__ import annotations

import base64
import json

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest
from providers.payloads import WEBPUSH_MAX_BYTES

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


def test_the_browser_decrypts_what_it_receives(sim):
    """Each message is encrypted for its own subscription (RFC 8291): the browser's key opens it, and only it."""
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
    targets = []
    for i, key in enumerate(keys):
        p256dh, auth = browser_subscription(key)
        targets.append(PushTarget(f"{sim.base_url}/wp/ok-web-decrypt-{i}", web_push_p256dh=p256dh, web_push_auth=auth))
    outcomes = send_with("webpush", [SendRequest(t, MESSAGE) for t in targets])
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 2
    bodies = [base64.b64decode(sim.messages(f"ok-web-decrypt-{i}")[0]["payload"]["body"]) for i in range(2)]
    assert bodies[0] != bodies[1]
    opened = http_ece.decrypt(bodies[0], private_key=keys[0], auth_secret=b"0123456789abcdef", version="aes128gcm")
    assert json.loads(opened)["title"] == "Price drop"
    with pytest.raises(http_ece.ECEException):
        http_ece.decrypt(bodies[0], private_key=keys[1], auth_secret=b"0123456789abcdef", version="aes128gcm")


def test_an_endpoint_that_is_not_a_url_is_refused_without_sending(sim):
    p256dh, auth = browser_subscription()
    bad = PushTarget(f"{sim.base_url}/wp/ok web\r\nX-Injected: 1", web_push_p256dh=p256dh, web_push_auth=auth)
    [outcome] = send_with("webpush", [SendRequest(bad, MESSAGE)])
    assert (outcome.kind, outcome.code) == (OutcomeKind.TOKEN_INVALID, "bad_subscription")
    assert sim.stats()["requests"] == 0
