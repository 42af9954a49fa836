"""Frequency caps and de-duplication, counted atomically in Redis.

One Lua script per user decides a whole batch of that user's notifications:
the check and the count are one step, so any number of workers sending to
the same user at the same moment can't together pass the cap. Every user of a
batch is decided in one pipelined round trip.

Per user, a sorted set holds the notifications counted against the caps
(member: notification id, score: Redis' own clock in ms); a notification
already counted (a redelivered task) passes again without counting twice.
A de-duplication key holds the id of the notification that took it, until
its window ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from devices.token_cache import client

# KEYS[1]: the user's caps set; KEYS[2..]: de-duplication keys. ARGV[1]: JSON list of
# {"id", "caps": [[window_ms, max], ...] or [], "d": index into KEYS or 0, "ttl": ms}; ARGV[2]: longest window (ms).
# Returns one verdict per item: "ok", "duplicate:<id>" or "capped:<window_ms>:<max>".
_DECIDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local items = cjson.decode(ARGV[1])
local longest = tonumber(ARGV[2])
local caps_key = KEYS[1]
local verdicts = {}
for i, item in ipairs(items) do
  local id = tostring(item.id)
  local verdict = 'ok'
  local dedup = nil
  if item.d > 0 then dedup = KEYS[item.d] end
  if dedup then
    local holder = redis.call('GET', dedup)
    if holder and holder ~= id then verdict = 'duplicate:' .. holder end
  end
  if verdict == 'ok' and #item.caps > 0 and not redis.call('ZSCORE', caps_key, id) then
    for _, cap in ipairs(item.caps) do
      if redis.call('ZCOUNT', caps_key, now - cap[1], '+inf') >= cap[2] then
        verdict = 'capped:' .. cap[1] .. ':' .. cap[2]
        break
      end
    end
    if verdict == 'ok' then redis.call('ZADD', caps_key, now, id) end
  end
  if verdict == 'ok' and dedup then redis.call('SET', dedup, id, 'PX', item.ttl) end
  verdicts[i] = verdict
end
if longest > 0 then
  redis.call('ZREMRANGEBYSCORE', caps_key, '-inf', now - longest)
  redis.call('PEXPIRE', caps_key, longest)
end
return verdicts
"""

PREFIX = "pc:protect"


@dataclass(frozen=True)
class Candidate:
    notification_id: int
    user_id: str
    caps: Sequence[tuple[int, int]]  # (window seconds, max); empty: not counted (transactional)
    dedup_key: str = ""
    dedup_seconds: int = 0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    duplicate_of: int | None = None
    cap: tuple[int, int] | None = None  # the cap that was full: (window seconds, max)


def caps_key(user_id: str) -> str:
    return f"{PREFIX}:caps:{user_id}"


def decide(candidates: Sequence[Candidate]) -> dict[int, Decision]:
    """Count the allowed candidates against their caps and take their de-duplication keys; one round trip."""
    by_user: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_user.setdefault(candidate.user_id, []).append(candidate)
    redis_client = client()
    script = redis_client.register_script(_DECIDE)
    pipe = redis_client.pipeline(transaction=False)
    order: list[list[Candidate]] = []
    for user_id, items in by_user.items():
        keys = [caps_key(user_id)]
        payload = []
        for item in items:
            index = 0
            if item.dedup_key and item.dedup_seconds > 0:
                keys.append(f"{PREFIX}:dedup:{user_id}:{item.dedup_key}")
                index = len(keys)
            caps = [[seconds * 1000, maximum] for seconds, maximum in sorted(item.caps)]
            payload.append({"id": item.notification_id, "caps": caps, "d": index, "ttl": item.dedup_seconds * 1000})
        longest = max((seconds for item in items for seconds, _ in item.caps), default=0) * 1000
        script(keys=keys, args=[json.dumps(payload), longest], client=pipe)
        order.append(items)
    decisions: dict[int, Decision] = {}
    for items, verdicts in zip(order, pipe.execute(), strict=True):
        for item, raw in zip(items, verdicts, strict=True):
            verdict = raw.decode() if isinstance(raw, bytes) else raw
            if verdict == "ok":
                decisions[item.notification_id] = Decision(True)
            elif verdict.startswith("duplicate:"):
                decisions[item.notification_id] = Decision(False, duplicate_of=int(verdict.split(":", 1)[1]))
            else:
                _, window_ms, maximum = verdict.split(":")
                decisions[item.notification_id] = Decision(False, cap=(int(window_ms) // 1000, int(maximum)))
    return decisions


def counts(user_id: str, windows: Sequence[int]) -> dict[int, int]:
    """How many marketing pushes the user got in each window (seconds) until now: for the admin."""
    redis_client = client()
    seconds, micros = redis_client.time()
    now_ms = seconds * 1000 + micros // 1000
    pipe = redis_client.pipeline(transaction=False)
    for window in windows:
        pipe.zcount(caps_key(user_id), now_ms - window * 1000, "+inf")
    return dict(zip(windows, pipe.execute(), strict=True))
