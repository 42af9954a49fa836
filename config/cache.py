"""Django's Redis cache with one connection pool per process.

Django keeps the cache's connection pools on the cache object, and the cache object is per thread. Under ASGI
every request runs in a thread of its own, so every request opened a new Redis connection (and its health
check) for the throttle's one read (issue 16). `SharedConnectionPool.from_url` hands every cache object of
the process the same pool; redis-py re-creates a pool's connections after a fork (Celery's children).
"""

from __future__ import annotations

import threading
from typing import Any

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _shared: dict[tuple, redis.ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:  # type: ignore[override]
        key = (url, *sorted((name, repr(value)) for name, value in kwargs.items()))
        with cls._lock:
            if key not in cls._shared:
                cls._shared[key] = redis.ConnectionPool.from_url(url, **kwargs)
            return cls._shared[key]
