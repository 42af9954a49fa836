"""Web Push (RFC 8030/8291/8292): pywebpush's encryption, keep-alive connections per push service, VAPID-signed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from notifications.providers.base import Outcome, OutcomeKind, PushProvider, SendRequest, parse_retry_after
from notifications.providers.http1 import HttpError, KeepAlivePool, request_target
from notifications.providers.payloads import PayloadTooLargeError, PerMessage, webpush_headers, webpush_payload

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
    """Each message encrypted for its subscription (aes128gcm, by pywebpush), POSTed over a keep-alive pool
    per push-service origin (`http1.KeepAlivePool`: aiohttp's client had cost a quarter of a push's CPU)."""

    name = "webpush"

    def __init__(
        self, *, vapid_private_key: str, vapid_subject: str, max_concurrency: int = 64, timeout_seconds: float = 10.0
    ) -> None:
        self._vapid = VapidHeaders(vapid_private_key, vapid_subject)
        self._max_concurrency = max_concurrency
        self._timeout = timeout_seconds
        self._pools: dict[str, KeepAlivePool] = {}

    def _pool(self, origin: str) -> KeepAlivePool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = KeepAlivePool(
                origin, max_connections=self._max_concurrency, timeout_seconds=self._timeout
            )
        return pool

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[Outcome]:
        payloads = PerMessage(webpush_payload)
        heads: dict[tuple[int, str], bytes] = {}  # by message (as PerMessage) and origin

        async def send(request: SendRequest) -> Outcome:
            message, endpoint = request.message, request.target.token
            try:
                payload = payloads(message)
            except PayloadTooLargeError as exc:
                return Outcome(OutcomeKind.PERMANENT, code="payload_too_large", text=str(exc))
            parts = urlsplit(endpoint)
            path = request_target(parts)
            if parts.scheme not in ("http", "https") or not _is_plain(parts.netloc + path):
                return Outcome(OutcomeKind.TOKEN_INVALID, code="bad_subscription", text="Not a push service URL.")
            subscription = {
                "endpoint": endpoint,
                "keys": {"p256dh": request.target.web_push_p256dh, "auth": request.target.web_push_auth},
            }
            try:
                body = WebPusher(subscription).encode(payload, "aes128gcm")["body"]
            except (ValueError, TypeError, WebPushException) as exc:  # malformed subscription keys
                return Outcome(OutcomeKind.TOKEN_INVALID, code="bad_subscription", text=str(exc))
            origin = f"{parts.scheme}://{parts.netloc}"
            head = heads.get((id(message), origin))
            if head is None:
                headers = {**webpush_headers(message), **self._vapid.for_endpoint(endpoint)}
                headers["Content-Encoding"] = "aes128gcm"
                headers["Content-Type"] = "application/octet-stream"
                head = heads[(id(message), origin)] = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
            try:
                response = await self._pool(origin).post(body, head, path=path)
            except HttpError as exc:
                return Outcome(OutcomeKind.RETRY, code="network", text=str(exc))
            if response.status in (200, 201, 202):
                return Outcome.delivered(response.headers.get("location", ""), status=response.status)
            text = response.body[:200].decode(errors="replace")
            return classify(response.status, text, parse_retry_after(response.headers.get("retry-after")))

        return list(await asyncio.gather(*(send(r) for r in requests)))

    async def close(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.close()


def _is_plain(text: str) -> bool:
    """Printable ASCII without spaces: what can go into a request line and a Host header as it is."""
    return text.isascii() and all(" " < c < "\x7f" for c in text)
