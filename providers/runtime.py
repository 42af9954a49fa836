"""One asyncio event loop per worker process, holding the long-lived provider clients.

Celery tasks are synchronous; the provider clients are asynchronous and bound
to the loop that created them (firebase-admin's and aiohttp's clients fail on
a second loop). So each process runs one loop in a daemon thread and tasks
submit batches to it. After a fork (Celery's prefork pool) the child starts
its own loop and clients: nothing created in the parent is reused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Sequence

from providers.base import Outcome, OutcomeKind, OutcomeReport, PushProvider, SendRequest
from providers.registry import build_provider

logger = logging.getLogger(__name__)


class ProviderRuntime:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._providers: dict[str, PushProvider] = {}

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="push-providers", daemon=True)
                thread.start()
                self._loop, self._pid, self._providers = loop, os.getpid(), {}
            return self._loop

    def send(self, provider: str, requests: Sequence[SendRequest], timeout: float | None = None) -> list[Outcome]:
        """Send a batch through `provider`; blocks until every outcome is known."""
        return self.start(provider, requests).result(timeout)

    def start(
        self, provider: str, requests: Sequence[SendRequest], report: OutcomeReport | None = None
    ) -> concurrent.futures.Future[list[Outcome]]:
        """Start sending a batch through `provider`; the future gives its outcomes, and `report` (called on the
        providers' thread: it must return at once) each outcome as it arrives. Batches started one after
        another go out together: a slow provider or push service delays no other's."""
        if not requests:
            done: concurrent.futures.Future[list[Outcome]] = concurrent.futures.Future()
            done.set_result([])
            return done
        return asyncio.run_coroutine_threadsafe(self._send(provider, requests, report), self._event_loop())

    async def _send(self, name: str, requests: Sequence[SendRequest], report: OutcomeReport | None) -> list[Outcome]:
        try:
            provider = await self._get(name)
        except Exception as exc:
            # Unreadable credentials and the like: every message would fail the
            # same way until the configuration is fixed, so the provider pauses.
            logger.exception("Provider %s could not be set up", name)
            text = f"{name} could not be set up: {type(exc).__name__}: {exc}"
            return [Outcome(OutcomeKind.PROVIDER_ERROR, code="provider_misconfigured", text=text)] * len(requests)
        try:
            return await provider.send_batch(requests, report)
        except Exception as exc:
            # Adapters classify every answer they know; anything else (a bug, a
            # client library's surprise) must still not escape to the engine as
            # an exception, and must not lose the messages: they are retried.
            logger.exception("Provider %s raised while sending %d message(s)", name, len(requests))
            return [Outcome(OutcomeKind.RETRY, code="provider_exception", text=f"{type(exc).__name__}: {exc}")] * len(
                requests
            )

    def provider(self, name: str) -> PushProvider:
        """The process's instance of a provider (built on the runtime's loop)."""
        future = asyncio.run_coroutine_threadsafe(self._get(name), self._event_loop())
        return future.result()

    async def _get(self, name: str) -> PushProvider:
        if name not in self._providers:
            self._providers[name] = build_provider(name)
        return self._providers[name]

    def reset(self) -> None:
        """Close every provider client; the next send builds them again from settings."""
        if self._loop is None or self._pid != os.getpid():
            return
        providers, self._providers = self._providers, {}

        async def close_all() -> None:
            for provider in providers.values():
                await provider.close()

        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(30)


runtime = ProviderRuntime()
