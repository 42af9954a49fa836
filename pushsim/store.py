"""The last messages received per token, bounded in memory."""

from __future__ import annotations

import time
from collections import OrderedDict, deque

PER_TOKEN = 20
MAX_TOKENS = 50_000


class MessageStore:
    def __init__(self) -> None:
        self._by_token: OrderedDict[str, deque] = OrderedDict()
        self.received: dict[str, int] = {}  # token -> messages received (bounded like the rings)

    def add(self, provider: str, token: str, payload: object, headers: dict[str, str], outcome: str) -> None:
        ring = self._by_token.get(token)
        if ring is None:
            if len(self._by_token) >= MAX_TOKENS:
                oldest, _ = self._by_token.popitem(last=False)  # forget the oldest token
                self.received.pop(oldest, None)
            ring = self._by_token[token] = deque(maxlen=PER_TOKEN)
        self.received[token] = self.received.get(token, 0) + 1
        ring.append(
            {
                "provider": provider,
                "payload": payload,
                "headers": headers,
                "outcome": outcome,
                "received_at": time.time(),
            }
        )

    def get(self, token: str) -> list[dict]:
        return list(self._by_token.get(token, ()))

    def counts(self, prefix: str) -> dict[str, int]:
        return {token: n for token, n in self.received.items() if token.startswith(prefix)}

    def clear(self) -> None:
        self._by_token.clear()
        self.received.clear()
