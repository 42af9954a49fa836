"""Overload: refuse quickly and clearly what this web process can't serve in time, instead of queueing it.

Two doors, one answer (503 with `Retry-After`, JSON in the API's error shape):
- `AdmissionControl`, the outermost ASGI layer: at most WEB_MAX_IN_FLIGHT HTTP requests are in progress in
  the process; the next one is answered at once, before Django, authentication or the database see it. An
  admitted request runs on (or waits for) one of the process's WEB_THREADS threads and holds at most one
  pooled database connection: this bounds the wait, whatever the number of clients.
- `DatabaseUnavailableMiddleware`: a request that could not get a database connection in time (the pool is
  exhausted, PostgreSQL is down) or could not reach Redis is a 503 too, never a 500.

`/readyz` answers 503 "overloaded" (from this layer, whatever the threads are doing) while requests are being
refused, so a load balancer can send traffic elsewhere. Health, readiness and metrics are never refused: they
must answer precisely when the process is busy.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import redis
from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import Counter, Gauge

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

logger = logging.getLogger(__name__)

NEVER_REFUSED = frozenset({"/healthz", "/readyz", "/metrics"})
REFUSED = Counter("pushcart_http_refused_total", "HTTP requests answered 503 because the process was busy", ["why"])
IN_FLIGHT = Gauge("pushcart_http_in_flight", "HTTP requests in progress in the web process", multiprocess_mode="sum")


class _State:
    """What this process knows of its own load (counted on the event loop; threads only stamp a refusal)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last_refused = float("-inf")  # time.monotonic() of the last refusal

    def overloaded(self) -> bool:
        """Refused a request within the last OVERLOAD_READY_HOLD_SECONDS."""
        return time.monotonic() - self.last_refused < settings.OVERLOAD_READY_HOLD_SECONDS


state = _State()


def _body(why: str) -> bytes:
    retry = settings.OVERLOAD_RETRY_AFTER_SECONDS
    detail = {
        "busy": f"The server is busy; retry after {retry} s.",
        "store": f"A store the request needs (PostgreSQL or Redis) is unavailable or busy; retry after {retry} s.",
    }[why]
    return json.dumps({"detail": detail, "code": "unavailable"}).encode()


class AdmissionControl:
    """ASGI middleware: at most `limit` HTTP requests in progress; beyond that, 503 with Retry-After at once."""

    def __init__(self, app: ASGIApp, limit: int | None = None) -> None:
        self.app = app
        self.limit = limit or settings.WEB_MAX_IN_FLIGHT

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/readyz" and state.overloaded():
            # Answered here: every thread may be busy, and a load balancer must hear it now.
            checks = {"capacity": f"overloaded: refusing requests ({state.in_flight} in progress)"}
            await _answer(send, json.dumps({"status": "not ready", "checks": checks}).encode())
            return
        if scope["path"] in NEVER_REFUSED:
            await self.app(scope, receive, send)
            return
        if state.in_flight >= self.limit:
            state.last_refused = time.monotonic()
            REFUSED.labels("busy").inc()
            await _answer(send, _body("busy"), retry_after=settings.OVERLOAD_RETRY_AFTER_SECONDS)
            return
        state.in_flight += 1
        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            state.in_flight -= 1
            IN_FLIGHT.dec()


async def _answer(send: Any, body: bytes, retry_after: int | None = None) -> None:
    """A 503 with a JSON body, straight from the ASGI layer."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def database_unavailable(exc: BaseException) -> bool:
    """A store could not be reached: the pool stayed exhausted for its timeout, or PostgreSQL or Redis is away."""
    return isinstance(exc, (OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError))


def unavailable_response() -> HttpResponse:
    """The 503 for a request that could not reach PostgreSQL or Redis."""
    state.last_refused = time.monotonic()
    REFUSED.labels("store").inc()
    response = JsonResponse(json.loads(_body("store")), status=503)
    response["Retry-After"] = str(settings.OVERLOAD_RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Turn a failure to reach PostgreSQL or Redis in any view (API, admin) into a 503 instead of a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not database_unavailable(exc):
            return None
        logger.warning("503 for %s %s: %s", request.method, request.path, exc)
        return unavailable_response()
