"""The provider simulator for adapter tests, and settings that point every provider at it."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from providers.base import Outcome, SendRequest
from providers.runtime import runtime
from pushsim import credentials


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
    return encode(point), encode(b"0123456789abcdef")
