"""The provider simulator for adapter tests, and settings that point every provider at it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notifications.providers.base import Outcome, SendRequest
from notifications.providers.runtime import runtime
from pushsim import credentials
from pushsim.control import Simulator


@pytest.fixture
def provider_settings(settings, simulator: Simulator):  # type: ignore[no-untyped-def]
    """Settings for all three providers against the simulator; provider clients rebuilt per test."""
    paths = simulator.paths
    apns = json.loads(paths.apns_meta.read_text())
    settings.PUSH_PROVIDERS = ["fcm", "apns", "webpush"]
    settings.FCM_CREDENTIALS_FILE = str(paths.service_account)
    settings.FCM_ENDPOINT = simulator.base_url
    settings.FCM_TRANSPORT = "http"
    settings.APNS_KEY_FILE = str(paths.apns_key)
    settings.APNS_KEY_ID = apns["key_id"]
    settings.APNS_TEAM_ID = apns["team_id"]
    settings.APNS_TOPIC = apns["topic"]
    settings.APNS_ENDPOINT = simulator.apns_endpoint
    settings.APNS_CA_FILE = str(paths.ca_cert)
    settings.VAPID_PRIVATE_KEY = str(paths.vapid_private)
    runtime.reset()
    yield settings
    runtime.reset()


@pytest.fixture(autouse=True)
def _providers_on_simulator(provider_settings):  # type: ignore[no-untyped-def]
    return provider_settings


def send_with(provider: str, requests: list[SendRequest]) -> list[Outcome]:
    """Through the process's provider runtime, as the workers send."""
    runtime.reset()  # pick up settings changed by the test
    return runtime.send(provider, requests, timeout=60)


@pytest.fixture
def foreign_service_account(tmp_path: Path, simulator: Simulator) -> Path:
    """A well-formed service account the simulated Google has never heard of."""
    path = tmp_path / "foreign-service-account.json"
    account = credentials.service_account(simulator.base_url)
    account["client_email"] = "stranger@elsewhere.iam.gserviceaccount.com"
    path.write_text(json.dumps(account))
    return path


@pytest.fixture
def foreign_apns_key(tmp_path: Path) -> Path:
    path = tmp_path / "foreign.p8"
    path.write_bytes(credentials.apns_key())
    return path


def browser_subscription() -> tuple[str, str]:
    """p256dh and auth as a browser's PushSubscription gives them."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    encode = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return encode(point), encode(b"0123456789abcdef")
