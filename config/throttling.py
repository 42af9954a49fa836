"""API rate limits counted in Redis with one INCR per request.

DRF's throttles keep a sliding log of timestamps in the cache: every request reads the whole list, trims it
and writes it back pickled, so a key allowed 1,000 requests a minute costs a 1,000-item read and write per
request, and two concurrent requests can overwrite each other's entries. Here each key counts in fixed
windows of the rate's duration (INCR and EXPIRE, pipelined: one round trip); at a window's edge a client can
get up to twice its rate over one duration, which is the usual trade of fixed windows.
"""

from __future__ import annotations

import time
from typing import Any

from rest_framework import throttling
from rest_framework.request import Request

PREFIX = "pc:throttle"


class _CountedInRedis(throttling.SimpleRateThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        from config.redis_client import client

        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        window = int(time.time() // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        key = f"{PREFIX}:{self.key}:{window}"
        pipe = client().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, self.duration + 1)
        count, _ = pipe.execute()
        return count <= self.num_requests

    def wait(self) -> float:
        return max(1.0, self.window_ends_at - time.time())


class UserRateThrottle(_CountedInRedis, throttling.UserRateThrottle):
    """Per authenticated user or API key (the `user` rate)."""


class AnonRateThrottle(_CountedInRedis, throttling.AnonRateThrottle):
    """Per client address, for refused authentications (the `anon` rate, see config.api.PushcartAPIView)."""
