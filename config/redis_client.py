"""The process's Redis client for Pushcart's own keys: the token cache, shopper protection, rate limits, wake-ups,
readiness. (Django's cache and Celery's broker have their own connections: config/cache.py, config/celery.py.)"""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def client() -> redis.Redis:
    """One connection pool per process (redis-py re-creates it after a fork)."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
