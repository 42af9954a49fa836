"""Web Push (RFC 8030/8291/8292): pywebpush over one long-lived aiohttp session, VAPID-signed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp
from py_vapid import Vapid
from pywebpush import WebPusher

from notifications.providers.base import Outcome, OutcomeKind, PushProvider, SendRequest, parse_retry_after
from notifications.providers.payloads import PayloadTooLargeError, webpush_headers, webpush_payload

VAPID_LIFETIME_SECONDS = 12 * 3600


def classify(status: int, text: str, retry_after: float | None) -> Outcome:
    def outcome(kind: OutcomeKind) -> Outcome:
        return Outcome(kind, code=str(status), text=text, retry_after=retry_after, status=status)

    if status in (404, 410):
        return outcome(OutcomeKind.TOKEN_INVALID)
    if status == 429 or status >= 500:
        return outcome(OutcomeKind.RETRY)
    if status in (401, 403):  # our VAPID signature or key was refused
        return outcome(OutcomeKind.PROVIDER_ERROR)
    return outcome(OutcomeKind.PERMANENT)  # 400, 413 payload too large, ...


class VapidHeaders:
    """VAPID Authorization headers per push-service origin, signed once per half day
    rather than once per message (ES256 signing is most of a send's CPU)."""

    def __init__(self, private_key: str, subject: str) -> None:
        self._vapid = Vapid.from_pem(private_key.encode()) if "BEGIN" in private_key else Vapid.from_file(private_key)
        self._subject = subject
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def for_endpoint(self, endpoint: str) -> dict[str, str]:
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._cache.get(origin)
        if cached and cached[0] - now > 600:
            return cached[1]
        expires = int(now) + VAPID_LIFETIME_SECONDS
        headers = self._vapid.sign({"aud": origin, "exp": expires, "sub": self._subject})
        self._cache[origin] = (expires, headers)
        return headers


class WebPushProvider(PushProvider):
    name = "webpush"

    def __init__(
        self, *, vapid_private_key: str, vapid_subject: str, max_concurrency: int = 64, timeout_seconds: float = 10.0
    ) -> None:
        self._vapid = VapidHeaders(vapid_private_key, vapid_subject)
        self._max_concurrency = max_concurrency
        self._timeout = timeout_seconds
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_concurrency, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[Outcome]:
        limit = asyncio.Semaphore(self._max_concurrency)
        session = self._client()

        async def send(request: SendRequest) -> Outcome:
            target = request.target
            try:
                payload = webpush_payload(request.message)
            except PayloadTooLargeError as exc:
                return Outcome(OutcomeKind.PERMANENT, code="payload_too_large", text=str(exc))
            subscription = {
                "endpoint": target.token,
                "keys": {"p256dh": target.web_push_p256dh, "auth": target.web_push_auth},
            }
            headers = {**webpush_headers(request.message), **self._vapid.for_endpoint(target.token)}
            async with limit:
                try:
                    pusher = WebPusher(subscription, aiohttp_session=session)
                    response = await pusher.send_async(
                        payload, headers=headers, ttl=request.message.ttl_seconds, timeout=self._timeout
                    )
                    status = response.status
                    text = (await response.text())[:200]
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                except (TimeoutError, aiohttp.ClientError) as exc:
                    return Outcome(OutcomeKind.RETRY, code="network", text=f"{type(exc).__name__}: {exc}")
                except (ValueError, TypeError) as exc:  # malformed subscription keys
                    return Outcome(OutcomeKind.TOKEN_INVALID, code="bad_subscription", text=str(exc))
            if status in (200, 201, 202):
                return Outcome.delivered(response.headers.get("Location", ""), status=status)
            return classify(status, text, retry_after)

        return list(await asyncio.gather(*(send(r) for r in requests)))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
