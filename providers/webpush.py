"""Web Push (RFC 8030/8291/8292): pywebpush's encryption, keep-alive connections per push service, VAPID-signed."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from urllib.parse import urlsplit

from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from providers.base import Outcome, OutcomeKind, OutcomeReport, PushProvider, SendRequest, each, parse_retry_after
from providers.http1 import ForbiddenAddressError, HttpError, KeepAlivePool, request_target
from providers.payloads import PayloadTooLargeError, PerMessage, WebPushTemplate, webpush_headers
from providers.webpush_endpoints import EndpointPolicy

VAPID_LIFETIME_SECONDS = 12 * 3600
# Keep-alive pools of push-service origins: one per origin in use, the least recently used closed beyond
# MAX_POOLS, and any idle this long (a pool per origin ever seen, kept until shutdown, grew without bound).
MAX_POOLS = 32
POOL_IDLE_SECONDS = 300.0


def classify(status: int, text: str, retry_after: float | None) -> Outcome:
    def outcome(kind: OutcomeKind) -> Outcome:
        return Outcome(kind, code=str(status), text=text, retry_after=retry_after, status=status)

    if status in (404, 410):
        return outcome(OutcomeKind.TOKEN_INVALID)
    if status == 429 or status >= 500:
        return outcome(OutcomeKind.RETRY)
    # 401/403 included: a push service answers 403 for one subscription created for another VAPID key, and an
    # endpoint is whatever URL a shopper registered, so it says nothing sure about our credentials. Never a
    # provider pause (one shopper would pause Web Push for everyone, issue 17): this delivery fails, once.
    return outcome(OutcomeKind.PERMANENT)  # 400, 401, 403, 413 payload too large, ...


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
        if len(self._cache) >= 4 * MAX_POOLS:  # bounded like the pools: a few origins are in use at a time
            self._cache.clear()
        self._cache[origin] = (expires, headers)
        return headers


class WebPushProvider(PushProvider):
    """Each message encrypted for its subscription (aes128gcm, by pywebpush), POSTed over a keep-alive pool
    per push-service origin (`http1.KeepAlivePool`: aiohttp's client had cost a quarter of a push's CPU).

    An origin that timed out or could not be reached is not asked again for `cooloff_seconds`: its pushes are
    retried after that instead (issue 17: one slow push service held every worker for its timeout, push after
    push, while order updates waited behind it).

    Only to endpoints `endpoint_policy` allows (webpush_endpoints: no request reaches inside the network)."""

    name = "webpush"

    def __init__(
        self,
        *,
        vapid_private_key: str,
        vapid_subject: str,
        max_concurrency: int = 64,
        timeout_seconds: float = 10.0,
        endpoint_policy: EndpointPolicy | None = None,
        cooloff_seconds: float = 30.0,
    ) -> None:
        self._vapid = VapidHeaders(vapid_private_key, vapid_subject)
        self._max_concurrency = max_concurrency
        self._timeout = timeout_seconds
        self._policy = endpoint_policy or EndpointPolicy(allowed_origins=())
        # By last use, oldest first: (pool, when last used).
        self._pools: OrderedDict[str, tuple[KeepAlivePool, float]] = OrderedDict()
        # The connections of all origins together, not per origin: a batch to many origins stays bounded.
        self._slots = asyncio.Semaphore(max_concurrency)
        self._cooloff = cooloff_seconds
        # Origins that timed out or could not be reached: not asked again before time.monotonic() passes this.
        self._cooling: dict[str, float] = {}

    def _pool(self, origin: str) -> KeepAlivePool:
        now = time.monotonic()
        entry = self._pools.pop(origin, None)  # put back last: the order is by last use
        if entry is not None:
            pool = entry[0]
        else:
            pool = KeepAlivePool(
                origin,
                max_connections=self._max_concurrency,
                timeout_seconds=self._timeout,
                address_check=None if self._policy.allow_private else self._policy.address_allowed,
            )
        self._pools[origin] = (pool, now)
        for old, (old_pool, used) in list(self._pools.items())[:-1]:  # never the one just used
            if len(self._pools) <= MAX_POOLS and now - used < POOL_IDLE_SECONDS:
                break  # the rest were used later still
            del self._pools[old]
            old_pool.shut()  # requests in flight on it finish first
        return pool

    async def send_batch(self, requests: Sequence[SendRequest], report: OutcomeReport | None = None) -> list[Outcome]:
        payloads = PerMessage(WebPushTemplate.of)
        heads: dict[tuple[int, str], bytes] = {}  # by message (as PerMessage) and origin

        async def send(request: SendRequest) -> Outcome:
            message, endpoint = request.message, request.target.token
            try:
                template = payloads(message)
                payload = template.payload(request.notification_id)
            except PayloadTooLargeError as exc:
                return Outcome(OutcomeKind.PERMANENT, code="payload_too_large", text=str(exc))
            parts = urlsplit(endpoint)
            path = request_target(parts)
            if parts.scheme not in ("http", "https") or not _is_plain(parts.netloc + path):
                return Outcome(OutcomeKind.TOKEN_INVALID, code="bad_subscription", text="Not a push service URL.")
            # Checked again before each send: a device stored before the rules, or the settings, changed.
            problem = self._policy.problem(endpoint)
            if problem:
                return Outcome(OutcomeKind.PERMANENT, code="forbidden_endpoint", text=problem)
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
            topic = template.topic(request.notification_id)  # each notification's own, unless the message has one
            if topic:
                head += f"Topic: {topic}\r\n".encode()
            cooling = self._cooling.get(origin, 0.0) - time.monotonic()
            if cooling > 0:
                # It timed out or was unreachable moments ago: asking again would hold this worker as long again.
                text = f"{origin} did not answer in time; not asked again for {cooling:.0f} s."
                return Outcome(OutcomeKind.RETRY, code="origin_cooling_off", text=text, retry_after=cooling)
            try:
                async with self._slots:
                    response = await self._pool(origin).post(body, head, path=path)
            except ForbiddenAddressError as exc:  # nothing was sent
                return Outcome(OutcomeKind.PERMANENT, code="forbidden_endpoint", text=str(exc))
            except HttpError as exc:
                self._cool_off(origin)
                return Outcome(OutcomeKind.RETRY, code="network", text=str(exc))
            if response.status in (200, 201, 202):
                return Outcome.delivered(response.headers.get("location", ""), status=response.status)
            text = response.body[:200].decode(errors="replace")
            return classify(response.status, text, parse_retry_after(response.headers.get("retry-after")))

        return await each(requests, send, report)

    def _cool_off(self, origin: str) -> None:
        now = time.monotonic()
        if len(self._cooling) > MAX_POOLS * 4:  # forget the origins whose cool-off is over
            self._cooling = {o: until for o, until in self._cooling.items() if until > now}
        self._cooling[origin] = now + self._cooloff

    async def close(self) -> None:
        pools, self._pools = self._pools, OrderedDict()
        for pool, _ in pools.values():
            await pool.close()


def _is_plain(text: str) -> bool:
    """Printable ASCII without spaces: what can go into a request line and a Host header as it is."""
    return text.isascii() and all(" " < c < "\x7f" for c in text)
