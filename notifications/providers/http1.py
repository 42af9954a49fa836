"""A small HTTP/1.1 keep-alive client for one provider endpoint: POST a body, read the answer.

FCM and Web Push are one POST per message. aiohttp's general-purpose client (cookies, redirects,
middlewares, per-request tasks and timers) cost about 160 µs of CPU per message on this kind of
machine, most of a fresh delivery's provider cost. This pool does only what those calls need:
a bounded set of keep-alive connections to one origin, one request in flight on each, the answer
parsed by httptools (llhttp, as uvicorn uses). It keeps aiohttp's behaviour where it matters: TLS
with certificate checks, a total timeout per request, a connection the server closes (or answers
with `Connection: close`) is dropped and a new one opened for the next request. A request that
fails raises `HttpError`; the provider classifies it like aiohttp's errors (a retry later).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httptools

# The answer's headers a provider reads; the others are skipped without building strings.
KEPT_HEADERS = frozenset({b"retry-after", b"location", b"content-type"})


class HttpError(Exception):
    """The request got no complete answer (connection refused or lost, timeout, malformed answer)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # only KEPT_HEADERS, lower-case names
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection; the pool gives it one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.reusable = True
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"Malformed answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._fail(HttpError(f"Connection closed by the server: {exc}" if exc else "Connection closed by the server"))

    # httptools callbacks (it hands over each header whole, however the reads split it)
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in KEPT_HEADERS:
            self._headers[name.decode()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.reusable = False
        response = Response(self.parser.get_status_code(), self._headers, b"".join(self._body))
        self._headers, self._body = {}, []
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _fail(self, exc: HttpError) -> None:
        self.reusable = False
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


def request_target(parts: SplitResult) -> str:
    """What goes after POST in the request line: the URL's path and query."""
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class KeepAlivePool:
    """Up to `max_connections` keep-alive connections to the origin of `url`; POSTs to its path (or another)."""

    def __init__(
        self, url: str, *, max_connections: int, timeout_seconds: float, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        parts = urlsplit(url)
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.secure else 80)
        self._host_header = parts.netloc.rsplit("@", 1)[-1]
        self.path = request_target(parts)
        self._request_head = self._head(self.path)
        self._ssl = (ssl_context or ssl.create_default_context()) if self.secure else None
        self._timeout = timeout_seconds
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    def _head(self, path: str) -> bytes:
        return f"POST {path} HTTP/1.1\r\nHost: {self._host_header}\r\n".encode("latin-1")

    async def post(self, body: bytes, headers: bytes, path: str | None = None) -> Response:
        """POST `body` with `headers` (ready-made `Name: value\\r\\n` lines, Content-Length excluded) to the
        pool's path, or to `path` on the same origin."""
        head = self._request_head if path is None else self._head(path)
        async with self._slots:
            connection = await self._connection()
            loop = asyncio.get_running_loop()
            waiter = connection.waiter = loop.create_future()
            connection.transport.write(  # type: ignore[union-attr]
                b"%b%bContent-Length: %d\r\n\r\n%b" % (head, headers, len(body), body)
            )
            # A plain timer, not asyncio.wait_for (which costs a task-like wrapper per request).
            timer = loop.call_later(self._timeout, connection._fail, HttpError(f"No answer within {self._timeout:g} s"))
            try:
                return await waiter
            finally:
                timer.cancel()
                if not waiter.done() or waiter.cancelled():
                    # Cancelled: its answer may still come, so the connection can't serve another request.
                    connection._fail(HttpError("The request was abandoned"))
                self._release(connection)

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely to have been closed
            if connection.reusable and not connection.transport.is_closing():  # type: ignore[union-attr]
                return connection
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection, self.host, self.port, ssl=self._ssl, server_hostname=self.host if self._ssl else None
                ),
                self._timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise HttpError(f"Cannot connect to {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.reusable and not self._closed:
            self._idle.append(connection)
        elif connection.transport is not None:
            connection.transport.close()

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            connection = self._idle.pop()
            if connection.transport is not None:
                connection.transport.close()
