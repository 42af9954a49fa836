"""The provider simulator for adapter tests, and settings that point every provider at it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from providers.base import Outcome, SendRequest
from providers.runtime import runtime
from pushsim import credentials
from pushsim.control import Simulator

BROWSER_AUTH_SECRET = b"0123456789abcdef"  # browser_subscription's auth secret


@pytest.fixture(autouse=True)
def _providers_on_simulator(provider_settings):  # type: ignore[no-untyped-def]
    return provider_settings


def send_with(provider: str, requests: list[SendRequest]) -> list[Outcome]:
    """Through the process's provider runtime, as the workers send."""
    runtime.reset()  # pick up settings changed by the test
    return runtime.send(provider, requests, timeout=60)


@pytest.fixture
def foreign_apns_key(tmp_path: Path) -> Path:
    path = tmp_path / "foreign.p8"
    path.write_bytes(credentials.apns_key())
    return path


def browser_subscription(key: ec.EllipticCurvePrivateKey | None = None) -> tuple[str, str]:
    """p256dh and auth as a browser's PushSubscription gives them (for `key`, the browser's private key)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    encode = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return encode(point), encode(BROWSER_AUTH_SECRET)


def opened_webpush(push: dict, browser_key: ec.EllipticCurvePrivateKey) -> dict:
    """The JSON the service worker gets from a Web Push pushsim received, decrypted with the browser's key."""
    body = base64.b64decode(push["payload"]["body"])
    return json.loads(
        http_ece.decrypt(body, private_key=browser_key, auth_secret=BROWSER_AUTH_SECRET, version="aes128gcm")
    )


def collapse_identities(
    sim: Simulator, token: str, browser_key: ec.EllipticCurvePrivateKey | None = None
) -> list[tuple[str | None, str | None]]:
    """Per push `token` received, in order: (what the device shows it under, a second copy replacing the first;
    what the provider keeps only the last undelivered copy of): FCM (`android.notification.tag`,
    `android.collapse_key`), APNs (`apns-collapse-id`, both), Web Push (the payload's `tag`, `Topic`)."""
    found: list[tuple[str | None, str | None]] = []
    for push in sim.messages(token):
        payload, headers = push["payload"], push["headers"]
        if push["provider"] == "fcm":
            android = payload["android"]
            found.append((android.get("notification", {}).get("tag"), android.get("collapse_key")))
        elif push["provider"] == "apns":
            found.append((headers.get("apns-collapse-id"), headers.get("apns-collapse-id")))
        else:
            assert browser_key is not None, "a Web Push is read with the browser's key"
            found.append((opened_webpush(push, browser_key).get("tag"), headers.get("topic")))
    return found
