"""A provider that is off, or has no credentials, says so in every outcome."""

from __future__ import annotations

from notifications.providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest

from .conftest import send_with

REQUEST = SendRequest(PushTarget("ok-1"), PushMessage(title="t", body="b"))


def test_a_provider_that_is_off_says_so(provider_settings, sim):
    provider_settings.PUSH_PROVIDERS = ["fcm", "webpush"]
    [outcome] = send_with("apns", [REQUEST])
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, "provider_not_configured")
    assert "apns is not in PUSH_PROVIDERS" in outcome.text
    assert sim.stats()["requests"] == 0


def test_a_provider_without_credentials_names_the_missing_setting(provider_settings):
    provider_settings.FCM_CREDENTIALS_FILE = ""
    [outcome] = send_with("fcm", [REQUEST])
    assert outcome.code == "provider_not_configured"
    assert "set FCM_CREDENTIALS_FILE" in outcome.text
