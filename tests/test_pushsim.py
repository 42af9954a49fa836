"""The provider simulator itself: its checks, its deterministic and configured faults, its control API."""

from __future__ import annotations

import ssl
import time

import httpx
import pytest

from pushsim.control import Simulator


def fcm_token(sim: Simulator) -> str:
    import json

    import google.auth.transport.requests
    from google.oauth2 import service_account

    account = json.loads(sim.paths.service_account.read_text())
    credential = service_account.Credentials.from_service_account_info(
        account, scopes=["https://www.googleapis.com/auth/firebase.messaging"]
    )
    credential.refresh(google.auth.transport.requests.Request())
    return credential.token


def fcm_send(sim: Simulator, message: dict, bearer: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.post(
        f"{sim.base_url}/v1/projects/pushcart-sim/messages:send", json={"message": message}, headers=headers
    )


def test_fcm_refuses_requests_without_a_valid_access_token(sim):
    answer = fcm_send(sim, {"token": "ok-1"}, None)
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == "UNAUTHENTICATED"
    assert fcm_send(sim, {"token": "ok-1"}, "ya29.made-up").status_code == 401


@pytest.mark.parametrize(
    "message",
    [
        {"token": "a", "topic": "b"},  # two targets
        {},  # none
        {"token": "a", "data": {"n": 1}},  # data values must be strings
        {"token": "a", "notification": {"body": "x" * 5000}},  # over 4 KB
    ],
)
def test_fcm_checks_requests_as_fcm_does(sim, message):
    answer = fcm_send(sim, message, fcm_token(sim))
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_configured_faults_rate_limit_and_flaky_tokens(sim):
    token = fcm_token(sim)
    sim.configure(rate_503=1.0, retry_after=3)
    answer = fcm_send(sim, {"token": "ok-1"}, token)
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "3")

    sim.configure(rate_503=0.0, rate_limit=5)
    codes = [fcm_send(sim, {"token": f"ok-{i}"}, token).status_code for i in range(12)]
    assert codes.count(429) >= 5 and codes[:5] == [200] * 5

    sim.configure(rate_limit=0)
    assert [fcm_send(sim, {"token": "flaky-2-x"}, token).status_code for _ in range(3)] == [503, 503, 200]
    stats = sim.stats()
    assert stats["providers"]["fcm"]["unavailable"] == 3
    assert stats["providers"]["fcm"]["rate_limited"] == codes.count(429)


def test_added_latency(sim):
    token = fcm_token(sim)
    sim.configure(latency_ms=200)
    started = time.perf_counter()
    fcm_send(sim, {"token": "ok-slow"}, token)
    assert time.perf_counter() - started >= 0.2


def test_webpush_needs_a_valid_vapid_signature(sim):
    answer = httpx.post(
        f"{sim.base_url}/wp/ok-web", content=b"x", headers={"TTL": "60", "Content-Encoding": "aes128gcm"}
    )
    assert answer.status_code == 401
    answer = httpx.post(
        f"{sim.base_url}/wp/ok-web",
        content=b"x",
        headers={"TTL": "60", "Content-Encoding": "aes128gcm", "Authorization": "vapid t=abc, k=def"},
    )
    assert answer.status_code == 401


def test_apns_speaks_http2_over_tls_and_checks_the_provider_token(sim):
    context = ssl.create_default_context(cafile=str(sim.paths.ca_cert))
    with httpx.Client(http2=True, verify=context) as client:
        answer = client.post(
            f"{sim.apns_endpoint}/3/device/ok-1", json={"aps": {}}, headers={"apns-topic": "shop.grocery.app"}
        )
    assert answer.http_version == "HTTP/2"
    assert (answer.status_code, answer.json()) == (403, {"reason": "MissingProviderToken"})


def test_control_reset_forgets_everything(sim):
    fcm_send(sim, {"token": "ok-remember"}, fcm_token(sim))
    assert len(sim.messages("ok-remember")) == 1
    sim.configure(rate_429=0.5)
    sim.reset()
    assert sim.messages("ok-remember") == []
    assert sim.stats()["requests"] == 0
    assert sim.configure()["rate_429"] == 0.0


def test_fractional_fault_rates_are_kept_and_applied(sim):
    assert sim.configure(rate_503=0.25, seed=7)["rate_503"] == 0.25  # once truncated to 0 by an int cast
    token = fcm_token(sim)
    for i in range(200):
        fcm_send(sim, {"token": f"ok-rate-{i}"}, token)
    unavailable = sim.stats()["totals"].get("unavailable", 0)
    assert 25 < unavailable < 75, unavailable


def test_http_answers_follow_request_order_on_one_connection(sim):
    """Pipelined requests, a chunked body and `Connection: close`, as HTTP/1.1 clients may send them."""
    import socket
    from urllib.parse import urlsplit

    sim.configure(latency_ms=100)
    address = urlsplit(sim.base_url)
    token = fcm_token(sim)
    send = (
        "POST /v1/projects/pushcart-sim/messages:send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{size:x}\r\n{body}\r\n0\r\n\r\n"
    )
    body = '{"message": {"token": "ok-pipelined"}}'
    held_back = send.format(token=token, size=len(body), body=body)  # answered after 100 ms
    immediate = "GET /control/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection((address.hostname, address.port), timeout=5) as connection:
        connection.sendall((held_back + immediate).encode())
        answers = b""
        while chunk := connection.recv(65536):  # the server closes after the second answer
            answers += chunk
    first, second = answers.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 OK") and b'"name": "projects/pushcart-sim/messages/' in first
    assert second.startswith(b"200 OK") and b"Connection: close" in second and second.endswith(b'{"ok": true}')
    assert len(sim.messages("ok-pipelined")) == 1
