"""Issue 17, item 4: slow or huge push endpoints must not hold a worker or its memory.

An answer's body is read only up to a few KB (the rest dropped with the connection), a request that gets no
complete answer is cut at the push timeout, and the keep-alive pools of push-service origins are bounded.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc

import pytest

from providers import webpush
from providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest
from providers.http1 import MAX_BODY_BYTES, HttpError, KeepAlivePool
from providers.webpush import WebPushProvider
from providers.webpush_endpoints import EndpointPolicy
from tests.providers.conftest import browser_subscription, send_with

from .hostile_endpoints import answer, dripping, huge_body, serving, stalling

HUGE = 50 * 1024 * 1024
MESSAGE = PushMessage(title="Order 7", body="On its way")


def request_to(url: str) -> SendRequest:
    p256dh, auth = browser_subscription()
    return SendRequest(PushTarget(url, web_push_p256dh=p256dh, web_push_auth=auth), MESSAGE)


def test_a_50_mb_answer_is_read_only_up_to_the_cap() -> None:
    with serving(huge_body(400, HUGE)) as endpoint:

        async def post() -> tuple[int, int]:
            pool = KeepAlivePool(endpoint.url(), max_connections=1, timeout_seconds=10)
            response = await pool.post(b"{}", b"")
            await pool.close()
            return response.status, len(response.body)

        tracemalloc.start()
        try:
            status, length = asyncio.run(post())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert (status, length) == (400, MAX_BODY_BYTES)
    assert peak < 5 * 1024 * 1024, f"{peak:,} bytes allocated at the peak"
    assert endpoint.sent_bytes < HUGE  # the client hung up instead of receiving it all


@pytest.mark.django_db
def test_a_webpush_endpoint_answering_50_mb_settles_with_a_short_text(provider_settings) -> None:
    with serving(huge_body(400, HUGE)) as endpoint:
        [outcome] = send_with("webpush", [request_to(endpoint.url())])
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, "400")
    assert len(outcome.text) <= 200
    assert endpoint.sent_bytes < HUGE


@pytest.mark.django_db
@pytest.mark.parametrize("behaviour", [stalling, dripping], ids=["stalling", "dripping"])
def test_an_endpoint_that_never_finishes_its_answer_is_cut_at_the_timeout(provider_settings, behaviour) -> None:
    provider_settings.PUSH_TIMEOUT_SECONDS = 0.5
    with serving(behaviour) as endpoint:
        started = time.monotonic()
        [outcome] = send_with("webpush", [request_to(endpoint.url())])
        elapsed = time.monotonic() - started
    assert (outcome.kind, outcome.code) == (OutcomeKind.RETRY, "network")
    assert "No answer within 0.5 s" in outcome.text
    assert elapsed < 5  # cut at the timeout, not when the endpoint gives up (30 s, or never)


def test_headers_without_end_are_refused() -> None:
    def endless_headers(sock, endpoint) -> None:  # type: ignore[no-untyped-def]
        sock.sendall(b"HTTP/1.1 400 Bad\r\nLocation: ")
        chunk = b"x" * 65536
        while not endpoint.stop.is_set():
            sock.sendall(chunk)

    with serving(endless_headers) as endpoint:

        async def post() -> None:
            pool = KeepAlivePool(endpoint.url(), max_connections=1, timeout_seconds=10)
            with pytest.raises(HttpError, match="headers run past"):
                await pool.post(b"{}", b"")
            await pool.close()

        asyncio.run(post())


def test_pools_of_push_service_origins_are_bounded_and_idle_ones_closed(monkeypatch, provider_settings) -> None:
    async def use_origins() -> None:
        provider = WebPushProvider(
            vapid_private_key=provider_settings.VAPID_PRIVATE_KEY,
            vapid_subject="mailto:t@example.com",
            endpoint_policy=EndpointPolicy(allowed_origins=(), allow_http=True, allow_private=True),
        )
        first = provider._pool("http://127.0.0.1:10000")
        for port in range(10001, 10200):
            provider._pool(f"http://127.0.0.1:{port}")
        assert len(provider._pools) == webpush.MAX_POOLS
        assert first._closed  # the least recently used was closed
        monkeypatch.setattr(webpush, "POOL_IDLE_SECONDS", 0.0)
        provider._pool("http://127.0.0.1:9999")
        assert len(provider._pools) == 1  # every other origin was idle
        await provider.close()

    asyncio.run(use_origins())


def test_an_answer_within_the_cap_is_read_whole_and_the_connection_kept() -> None:
    """The cap changes nothing for ordinary answers (FCM's error JSON, a push service's text)."""
    with serving(answer(400, b"e" * 1000)) as endpoint:

        async def post_twice() -> list[int]:
            pool = KeepAlivePool(endpoint.url(), max_connections=1, timeout_seconds=5)
            lengths = [len((await pool.post(b"{}", b"")).body) for _ in range(2)]
            await pool.close()
            return lengths

        assert asyncio.run(post_twice()) == [1000, 1000]
    assert len(endpoint.requests) == 2
