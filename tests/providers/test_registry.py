"""A provider that is off, or has no credentials, says so in every outcome."""

from __future__ import annotations

from providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest

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


def test_unreadable_credentials_are_a_provider_error_not_an_exception(provider_settings, tmp_path):
    broken = tmp_path / "service-account.json"
    broken.write_text("{not json")
    provider_settings.FCM_CREDENTIALS_FILE = str(broken)
    outcomes = send_with("fcm", [REQUEST, REQUEST])
    assert [(o.kind, o.code) for o in outcomes] == [(OutcomeKind.PROVIDER_ERROR, "provider_misconfigured")] * 2
    assert "could not be set up" in outcomes[0].text
