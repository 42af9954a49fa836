"""Request bodies over the limit are refused with 413 before anything reads them.

Django's check (config.middleware.BodySizeLimitMiddleware) ran after uvicorn had received the request, and
uvicorn, keeping the connection alive, then read and dropped the whole refused body: a 300 MiB POST was
received in full before its 413. A body sent without Content-Length (chunked) was not even seen by Django (a
WSGI request without Content-Length has no body) and was drained the same way.

This ASGI layer, in front of Django, answers 413 with `Connection: close` (uvicorn then closes the connection
instead of reading on):
- at once when Content-Length is over the path's limit: nothing of the body is read, and neither
  authentication nor the database sees the request;
- for a body without Content-Length, as soon as the bytes received pass the limit. Such a body is read here,
  up to the limit, before the request goes on; it then goes on with its Content-Length, so that Django reads it.

Limits: ADMIN_MAX_BODY_BYTES under /admin/ (a segment's CSV upload), API_MAX_BODY_BYTES elsewhere; a body
without Content-Length is held in memory, so it gets API_MAX_BODY_BYTES at most on any path.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from config.overload import ASGIApp, Scope


def _limits(path: str) -> tuple[int, int]:
    """(limit for a declared Content-Length, limit for a body without one) on this path."""
    api = settings.API_MAX_BODY_BYTES
    return (settings.ADMIN_MAX_BODY_BYTES, api) if path.startswith("/admin/") else (api, api)


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """Content-Length, or None without one (or a malformed one, which uvicorn's parser refuses before this)."""
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # no body can follow it; Django answers 400 (config.middleware)
    return None


def _is_chunked(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"transfer-encoding" and b"chunked" in value.lower() for name, value in headers)


async def _refuse(send: Any, length: str, limit: int) -> None:
    body = json.dumps(
        {"detail": f"Request body is {length}; the limit is {limit} bytes.", "code": "payload_too_large"}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # uvicorn closes instead of reading the rest of the body to reuse the connection
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """ASGI middleware: 413 for a body over the path's limit, before the application reads any of it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared_limit, streamed_limit = _limits(scope["path"])
        declared = _declared_length(scope["headers"])
        if declared is not None:
            if declared > declared_limit:
                await _refuse(send, f"{declared} bytes", declared_limit)
                return
            await self.app(scope, receive, send)  # the HTTP parser stops the body at Content-Length
            return
        if not _is_chunked(scope["headers"]):
            await self.app(scope, receive, send)  # no body
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nobody to answer
            body += message.get("body", b"")
            if len(body) > streamed_limit:
                await _refuse(send, f"over {streamed_limit} bytes (sent without Content-Length)", streamed_limit)
                return
            if not message.get("more_body", False):
                break
        await self.app(_with_length(scope, len(body)), _replay(bytes(body), receive), send)


def _with_length(scope: Scope, length: int) -> Scope:
    """The scope of a body read whole: Content-Length instead of Transfer-Encoding."""
    headers = [(name, value) for name, value in scope["headers"] if name != b"transfer-encoding"]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` giving the body already read, then whatever the connection says next (a disconnect)."""
    given = False

    async def replay() -> dict[str, Any]:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
