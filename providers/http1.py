"""A small HTTP/1.1 keep-alive client for one provider endpoint: POST a body, read the answer.

FCM and Web Push are one POST per message. aiohttp's general-purpose client (cookies, redirects,
middlewares, per-request tasks and timers) cost about 160 µs of CPU per message on this kind of
machine, most of a fresh delivery's provider cost. This pool does only what those calls need:
a bounded set of keep-alive connections to one origin, one request in flight on each, the answer
parsed by httptools (llhttp, as uvicorn uses). It keeps aiohttp's behaviour where it matters: TLS
with certificate checks, a total timeout per request, a connection the server closes (or answers
with `Connection: close`) is dropped and a new one opened for the next request. A request that
fails raises `HttpError`; the provider classifies it like aiohttp's errors (a retry later).

An answer's body is read only up to MAX_BODY_BYTES (the rest is dropped with the connection), and an
answer whose headers run past MAX_ANSWER_BYTES fails, so a push endpoint answering 200 MB costs no memory.
A pool given an `address_check` resolves the host itself and connects only if every address passes:
a Web Push endpoint's host must not lead inside the network, whatever DNS says at the time.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httptools

# The answer's headers a provider reads; the others are skipped without building strings.
KEPT_HEADERS = frozenset({b"retry-after", b"location", b"content-type"})
# What a provider reads of an answer: its error text (Web Push keeps 200 bytes, FCM's error JSON is under 1 KB).
MAX_BODY_BYTES = 8 * 1024
# All an answer may take (status line, headers, body and its chunked framing) before the connection is failed.
MAX_ANSWER_BYTES = 64 * 1024 + MAX_BODY_BYTES


class HttpError(Exception):
    """The request got no complete answer (connection refused or lost, timeout, malformed answer)."""


class ForbiddenAddressError(HttpError):
    """The host resolved to an address the pool's `address_check` refuses: nothing was sent."""


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
        self._body_bytes = 0  # of the answer being read
        self._received = 0  # bytes of the answer being read, all of them

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self) -> None:
        """A request goes out on this connection: its answer is counted from zero."""
        self._body_bytes = self._received = 0

    def data_received(self, data: bytes) -> None:
        self._received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"Malformed answer: {exc}"))
            return
        # Still waiting after this much: headers without end (httptools would keep them all in memory).
        if self.waiter is not None and self._received > MAX_ANSWER_BYTES:
            self._fail(HttpError(f"The answer's headers run past {MAX_ANSWER_BYTES} bytes"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._fail(HttpError(f"Connection closed by the server: {exc}" if exc else "Connection closed by the server"))

    # httptools callbacks (it hands over each header whole, however the reads split it)
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in KEPT_HEADERS:
            self._headers[name.decode()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        if self._body_bytes >= MAX_BODY_BYTES:
            return  # already answered with the first MAX_BODY_BYTES (below); the connection is closing
        self._body.append(body[: MAX_BODY_BYTES - self._body_bytes])
        self._body_bytes += len(body)
        if self._body_bytes >= MAX_BODY_BYTES:
            # Enough to know what the server said: answer now with what was read, and drop the rest with
            # the connection instead of receiving it.
            self.reusable = False
            self._answer()
            if self.transport is not None:
                self.transport.close()

    def on_message_complete(self) -> None:
        if self._body_bytes >= MAX_BODY_BYTES:
            return  # answered in on_body
        if not self.parser.should_keep_alive():
            self.reusable = False
        self._answer()

    def _answer(self) -> None:
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
        self,
        url: str,
        *,
        max_connections: int,
        timeout_seconds: float,
        ssl_context: ssl.SSLContext | None = None,
        address_check: Callable[[str], bool] | None = None,
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
        self._address_check = address_check

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
            connection.start()
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
        try:
            # One timeout for resolving, connecting and the TLS handshake.
            return await asyncio.wait_for(self._connect(), self._timeout)
        except (OSError, TimeoutError) as exc:
            raise HttpError(f"Cannot connect to {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        server_hostname = self.host if self._ssl else None
        hosts = [self.host]
        if self._address_check is not None:
            # Resolve once, judge every address, then connect to a judged address rather than to the name
            # (which could resolve elsewhere the second time); TLS still checks the certificate for the name.
            infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            hosts = list(dict.fromkeys(info[4][0] for info in infos))
            refused = [address for address in hosts if not self._address_check(address)]
            if refused or not hosts:
                raise ForbiddenAddressError(f"{self.host} resolves to an address not allowed: {', '.join(refused)}")
        error: OSError | None = None
        for host in hosts:
            try:
                _, connection = await loop.create_connection(
                    _Connection, host, self.port, ssl=self._ssl, server_hostname=server_hostname
                )
                return connection
            except OSError as exc:
                error = exc  # the next address, as create_connection does for a name's addresses
        raise error  # type: ignore[misc]

    def _release(self, connection: _Connection) -> None:
        if connection.reusable and not self._closed:
            self._idle.append(connection)
        elif connection.transport is not None:
            connection.transport.close()

    async def close(self) -> None:
        self.shut()

    def shut(self) -> None:
        """Close the idle connections now; those in use are closed when their request ends."""
        self._closed = True
        while self._idle:
            connection = self._idle.pop()
            if connection.transport is not None:
                connection.transport.close()
