"""FCM through both transports against the simulator, over real HTTP: one shared table."""

from __future__ import annotations

import pytest

from providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest
from providers.payloads import FCM_MAX_BYTES, FcmBodyTemplate, PayloadTooLargeError

from .conftest import send_with

MESSAGE = PushMessage(title="Your order is on its way", body="Arriving 14:00-15:00", data={"order_id": "42"})

# token -> (outcome kind, provider code); the simulator answers by token prefix.
TABLE = [
    ("ok-device-1", OutcomeKind.DELIVERED, ""),
    ("unregistered-device-1", OutcomeKind.TOKEN_INVALID, "UNREGISTERED"),
    ("mismatch-device-1", OutcomeKind.TOKEN_INVALID, "SENDER_ID_MISMATCH"),
    ("invalid-device-1", OutcomeKind.PERMANENT, "INVALID_ARGUMENT"),
    ("unavailable-device-1", OutcomeKind.RETRY, "UNAVAILABLE"),
    ("quota-device-1", OutcomeKind.RETRY, "QUOTA_EXCEEDED"),
]


@pytest.fixture(params=["http", "sdk"])
def fcm_transport(request, provider_settings):
    provider_settings.FCM_TRANSPORT = request.param
    return request.param


def test_every_fcm_answer_maps_to_the_same_outcome_on_both_transports(fcm_transport, sim):
    requests = [SendRequest(PushTarget(token), MESSAGE) for token, _, _ in TABLE]
    outcomes = send_with("fcm", requests)
    assert [(o.kind, o.code) for o in outcomes[1:]] == [(kind, code) for _, kind, code in TABLE[1:]]
    delivered = outcomes[0]
    assert delivered.kind is OutcomeKind.DELIVERED
    assert delivered.message_id.startswith("projects/")
    quota = outcomes[-1]
    assert quota.retry_after and quota.retry_after > 0  # Retry-After honoured
    [received] = sim.messages("ok-device-1")
    assert received["payload"]["notification"] == {"title": MESSAGE.title, "body": MESSAGE.body}
    assert received["payload"]["data"] == {"order_id": "42"}


def test_internal_errors_are_retried_with_the_providers_retry_after(fcm_transport, sim):
    sim.configure(rate_500=1.0, retry_after=7)
    [outcome] = send_with("fcm", [SendRequest(PushTarget("ok-device-2"), MESSAGE)])
    assert (outcome.kind, outcome.code) == (OutcomeKind.RETRY, "INTERNAL")


def test_oversized_payload_is_refused_before_sending(fcm_transport, sim):
    huge = PushMessage(title="t", body="x" * (FCM_MAX_BYTES + 1))
    [outcome] = send_with("fcm", [SendRequest(PushTarget("ok-device-3"), huge)])
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, "payload_too_large")
    assert sim.messages("ok-device-3") == []


def test_refused_credentials_are_a_provider_error(fcm_transport, sim, provider_settings, foreign_service_account):
    provider_settings.FCM_CREDENTIALS_FILE = str(foreign_service_account)
    outcomes = send_with("fcm", [SendRequest(PushTarget("ok-device-4"), MESSAGE)] * 2)
    assert {(o.kind, o.code) for o in outcomes} == {(OutcomeKind.PROVIDER_ERROR, "auth")}
    assert sim.messages("ok-device-4") == []


def test_one_message_to_many_tokens_is_encoded_once_with_each_token_in_its_place(sim):
    """The fast transport splices tokens into one encoded body; each device still gets its own token."""
    message = PushMessage(title='Ofertas "frescas" 🍓', body="Nur heute", data={"k": "v"}, collapse_key="promo")
    tokens = ['ok-device-"quoted"', "ok-device-ünïcode", "ok-device-5"]
    outcomes = send_with("fcm", [SendRequest(PushTarget(token), message) for token in tokens])
    assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}
    for token in tokens:
        [received] = sim.messages(token)
        assert received["payload"]["token"] == token
        assert received["payload"]["notification"] == {"title": message.title, "body": message.body}
        assert received["payload"]["android"]["collapse_key"] == "promo"


def test_the_size_limit_counts_the_token():
    message = PushMessage(title="t", body="x" * 3800)
    template = FcmBodyTemplate.of(message)
    fits = FCM_MAX_BYTES - len(template.body("")) + len(b'{"message":}') + 2  # the token's two quotes
    assert len(template.body("a" * (fits - 2))) > 0
    with pytest.raises(PayloadTooLargeError, match="FCM payload is 4097 bytes"):
        template.body("a" * (fits - 1))
