"""The simulator's HTTP/1.1 server: keep-alive connections, requests parsed by httptools, plain handlers.

The simulator shares the machine with the pipeline it stands in for, so its CPU per message is
taken from what the benchmark can show. aiohttp's server (request and response objects, router,
payload streams, a task per request) cost about 120 µs a message; the providers' real servers cost
our machine nothing. This server does only what FCM's, Web Push's and the control API's callers
need: one request at a time per connection (answers leave in the order the requests came, also
when an answer is held back by simulated latency), bodies by Content-Length or chunked, and
`Connection: close` honoured.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl

import httptools

MAX_BODY_BYTES = 1024 * 1024


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    host: str = ""
    scheme: str = "http"
    match: str = ""  # what the route's wildcard matched (a project, a subscription)

    def json(self) -> object:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("latin-1")))


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to hold the answer back (simulated latency)

    def encode(self, keep_alive: bool) -> bytes:
        head = [f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}", f"Content-Type: {self.content_type}"]
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        head.append(f"Content-Length: {len(self.body)}")
        if not keep_alive:
            head.append("Connection: close")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), "application/json", headers or {})


def text_response(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, text.encode(), headers=headers or {})


Handler = Callable[[Request], Response]


class Routes:
    """(method, path) → handler; a path ending in `*` matches any rest, which the request gets as `match`."""

    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], Handler] = {}
        self.patterns: list[tuple[str, str, str, Handler]] = []  # method, prefix, suffix, handler

    def add(self, method: str, path: str, handler: Handler) -> None:
        if "*" in path:
            prefix, suffix = path.split("*", 1)
            self.patterns.append((method, prefix, suffix, handler))
        else:
            self.exact[(method, path)] = handler

    def find(self, request: Request) -> Handler | None:
        handler = self.exact.get((request.method, request.path))
        if handler is not None:
            return handler
        path = request.path
        for method, prefix, suffix, handler in self.patterns:
            if (
                method == request.method
                and path.startswith(prefix)
                and path.endswith(suffix)
                and len(path) > len(prefix) + len(suffix)
            ):
                request.match = path[len(prefix) : len(path) - len(suffix)]
                return handler
        return None


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.answers: deque[list] = deque()  # [encoded answer or None while held back], in request order
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._answer(text_response("Bad Request", 400), keep_alive=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size <= MAX_BODY_BYTES:  # past it, only counted: the answer is 413
            self._body.append(body)

    def on_message_complete(self) -> None:
        url = httptools.parse_url(self._url)
        query = url.query.decode("latin-1") if url.query else ""
        request = Request(
            method=self.parser.get_method().decode("latin-1"),
            path=url.path.decode("latin-1"),
            query=dict(parse_qsl(query)),
            headers=self._headers,
            body=b"".join(self._body),
            host=self._headers.get("host", ""),
        )
        if self._size > MAX_BODY_BYTES:
            response = text_response("Request Entity Too Large", 413)
        else:
            handler = self.routes.find(request)
            response = handler(request) if handler else text_response("Not Found", 404)
        self._answer(response, keep_alive=self.parser.should_keep_alive())

    # answers, in request order
    def _answer(self, response: Response, *, keep_alive: bool) -> None:
        slot = [None, keep_alive]
        self.answers.append(slot)
        encoded = response.encode(keep_alive)
        if response.delay > 0:
            asyncio.get_running_loop().call_later(response.delay, self._release, slot, encoded)
        else:
            self._release(slot, encoded)

    def _release(self, slot: list, encoded: bytes) -> None:
        slot[0] = encoded
        while self.answers and self.answers[0][0] is not None:
            ready, keep_alive = self.answers.popleft()
            if self.transport is None:
                continue
            self.transport.write(ready)
            if not keep_alive:
                self.transport.close()
                self.transport = None
