"""FCM HTTP v1, fast transport: a keep-alive connection pool per worker process.

Posts the same v1 JSON as firebase-admin, with the OAuth token from the
firebase-admin credential (the service-account JSON), over a bounded pool of
keep-alive connections (providers.http1). Measured on this kind
of machine it costs a small fraction of the CPU per message of firebase-admin's
own sending (docs/ARCHITECTURE.md, "Push providers"); httpx (the only asyncio
client here with HTTP/2) cost twenty times aiohttp's CPU per message, and
aiohttp's client 1.7 times this pool's, so HTTP/1.1 keep-alive it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence

import google.auth.exceptions
from firebase_admin import credentials

from providers import fcm_errors
from providers.base import (
    Outcome,
    OutcomeKind,
    OutcomeReport,
    PushProvider,
    SendRequest,
    each,
    parse_retry_after,
)
from providers.http1 import HttpError, KeepAlivePool
from providers.payloads import FcmBodyTemplate, PayloadTooLargeError, PerMessage

logger = logging.getLogger(__name__)

TOKEN_REFRESH_MARGIN_SECONDS = 300


class AccessTokens:
    """OAuth 2.0 access tokens from a firebase-admin credential, refreshed before expiry."""

    def __init__(self, credential: credentials.Certificate) -> None:
        self._credential = credential
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        if self._token and time.time() < self._expires_at - TOKEN_REFRESH_MARGIN_SECONDS:
            return self._token
        async with self._lock:
            if self._token and time.time() < self._expires_at - TOKEN_REFRESH_MARGIN_SECONDS:
                return self._token
            # google-auth is synchronous (requests); keep the event loop free.
            info = await asyncio.to_thread(self._credential.get_access_token)
            self._token = info.access_token
            self._expires_at = info.expiry.timestamp() if info.expiry else time.time() + 3600
            return self._token

    def forget(self) -> None:
        self._token = None


class FcmHttpProvider(PushProvider):
    name = "fcm"

    def __init__(
        self,
        *,
        credentials_file: str,
        endpoint: str,
        max_concurrency: int = 64,
        timeout_seconds: float = 10.0,
    ) -> None:
        credential = credentials.Certificate(credentials_file)
        self.project_id = credential.project_id
        self.url = f"{endpoint.rstrip('/')}/v1/projects/{self.project_id}/messages:send"
        self._tokens = AccessTokens(credential)
        self._max_concurrency = max_concurrency
        self._timeout = timeout_seconds
        self._pool: KeepAlivePool | None = None

    def _client(self) -> KeepAlivePool:
        if self._pool is None:
            self._pool = KeepAlivePool(self.url, max_connections=self._max_concurrency, timeout_seconds=self._timeout)
        return self._pool

    async def send_batch(self, requests: Sequence[SendRequest], report: OutcomeReport | None = None) -> list[Outcome]:
        try:
            token = await self._tokens.get()
        except google.auth.exceptions.RefreshError as exc:
            return [Outcome(OutcomeKind.PROVIDER_ERROR, code="auth", text=f"OAuth token refused: {exc}")] * len(
                requests
            )
        except google.auth.exceptions.TransportError as exc:
            return [Outcome(OutcomeKind.RETRY, code="auth_unreachable", text=str(exc))] * len(requests)

        outcomes = await self._send_all(requests, token, report)
        # A 401 usually means the access token expired early or was revoked:
        # fetch a new one and try those once more before blaming the credentials.
        stale = [i for i, o in enumerate(outcomes) if o.status == 401]
        if stale:
            self._tokens.forget()
            try:
                token = await self._tokens.get()
            except google.auth.exceptions.GoogleAuthError as exc:
                logger.warning("FCM token refresh after 401 failed: %s", exc)
                return outcomes
            again = await self._send_all(
                [requests[i] for i in stale], token, report and (lambda i, outcome: report(stale[i], outcome))
            )
            for index, outcome in zip(stale, again, strict=True):
                outcomes[index] = outcome
        return outcomes

    async def _send_all(
        self, requests: Sequence[SendRequest], token: str, report: OutcomeReport | None
    ) -> list[Outcome]:
        headers = f"Authorization: Bearer {token}\r\nContent-Type: application/json; UTF-8\r\n".encode()
        pool = self._client()
        templates = PerMessage(FcmBodyTemplate.of)

        async def send(request: SendRequest) -> Outcome:
            try:
                body = templates(request.message).body(request.target.token, request.notification_id)
            except PayloadTooLargeError as exc:
                return Outcome(OutcomeKind.PERMANENT, code="payload_too_large", text=str(exc))
            return await self._post(pool, body, headers)

        return await each(requests, send, report)

    async def _post(self, pool: KeepAlivePool, body: bytes, headers: bytes) -> Outcome:
        try:
            response = await pool.post(body, headers)
        except HttpError as exc:
            return Outcome(OutcomeKind.RETRY, code="network", text=str(exc))
        status, payload = response.status, response.body
        try:
            answer = json.loads(payload) if payload else {}
        except ValueError:
            answer = {}
        if status == 200:
            return Outcome.delivered(str(answer.get("name", "")))
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        text = str(error.get("message") or payload[:200].decode(errors="replace"))
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return fcm_errors.classify(status, fcm_errors.error_code_of(error), text, retry_after)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
