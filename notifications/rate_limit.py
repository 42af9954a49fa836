"""A rate limit per push provider shared by every worker, kept in Redis.

Callers reserve the messages they are about to send and are told how long to
wait before sending them: going over the rate queues work, it never fails it.
The reservation is one atomic Lua call (a token bucket that may go into debt).
"""

from __future__ import annotations

import time

from django.conf import settings

from config.redis_client import client

# KEYS[1]: bucket. ARGV: rate (per s), burst, requested, now (s). Returns the wait in ms.
_RESERVE = """
local rate, burst, wanted, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - stamp) * rate) - wanted
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
redis.call('EXPIRE', KEYS[1], 3600)
if tokens >= 0 then return 0 end
return math.ceil(-tokens / rate * 1000)
"""


def reserve(provider: str, count: int) -> float:
    """Reserve `count` sends on `provider`; returns the seconds to wait first (0 when under the rate)."""
    rate = settings.PROVIDER_RATE_LIMITS.get(provider) or 0
    if rate <= 0 or count <= 0:
        return 0.0
    wait_ms = client().eval(_RESERVE, 1, f"pc:ratelimit:{provider}", rate, rate, count, time.time())
    return int(wait_ms) / 1000


def wait_for(provider: str, count: int) -> float:
    """Reserve and sleep until the reservation is due; returns how long it slept."""
    wait = reserve(provider, count)
    if wait:
        time.sleep(wait)
    return wait
