"""Frequency caps and de-duplication, counted atomically in Redis.

One Lua script decides a whole batch of notifications: the check and the count are one step, so
any number of workers sending to the same users at the same moment can't together pass a cap. On
one Redis (or a primary with replicas) the batch is one call; on Redis Cluster, where a call's keys
must share a slot, it is one call per user, pipelined in one round trip (`decide(..., per_user=True)`).

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

from redis.cluster import RedisCluster

from config.redis_client import client

# KEYS: each user's caps set, then that user's de-duplication keys. ARGV[1]: JSON list of users: {"k": index into KEYS
# of the caps set, "w": longest window (ms), "items": [{"id" (text), "caps": [[window_ms, max], ...] or [], "d": index
# into KEYS or 0, "ttl": ms}, ...]}. ARGV[2]: "1" for a dry run (the same verdicts, nothing written: the items allowed
# are counted in a local tally instead of the set). Returns one verdict per item, in order: "ok", "duplicate:<id>" or
# "capped:<window_ms>:<max>".
_DECIDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local verdicts = {}
local dry = ARGV[2] == '1'
local taken = {}  -- a dry run's de-duplication keys taken within this call
for _, user in ipairs(cjson.decode(ARGV[1])) do
  local caps_key = KEYS[user.k]
  local tally = 0
  for _, item in ipairs(user.items) do
    local id = item.id
    local verdict = 'ok'
    local dedup = nil
    if item.d > 0 then dedup = KEYS[item.d] end
    if dedup then
      local holder = taken[dedup] or redis.call('GET', dedup)
      if holder and holder ~= id then verdict = 'duplicate:' .. holder end
    end
    if verdict == 'ok' and #item.caps > 0 and not redis.call('ZSCORE', caps_key, id) then
      for _, cap in ipairs(item.caps) do
        if redis.call('ZCOUNT', caps_key, now - cap[1], '+inf') + tally >= cap[2] then
          verdict = 'capped:' .. cap[1] .. ':' .. cap[2]
          break
        end
      end
      if verdict == 'ok' then
        if dry then tally = tally + 1 else redis.call('ZADD', caps_key, now, id) end
      end
    end
    if verdict == 'ok' and dedup then
      if dry then taken[dedup] = id else redis.call('SET', dedup, id, 'PX', item.ttl) end
    end
    verdicts[#verdicts + 1] = verdict
  end
  if user.w > 0 and not dry then
    redis.call('ZREMRANGEBYSCORE', caps_key, '-inf', now - user.w)
    redis.call('PEXPIRE', caps_key, user.w)
  end
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


def decide(
    candidates: Sequence[Candidate], *, per_user: bool | None = None, dry_run: bool = False
) -> dict[int, Decision]:
    """Count the allowed candidates against their caps and take their de-duplication keys; one round trip.

    `per_user`: one script call per user instead of one for the batch (default: only on Redis Cluster).
    `dry_run`: the same decisions by the same script, but nothing counted, taken or expired (a campaign's
    launch review estimates what would be held back).
    """
    by_user: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_user.setdefault(candidate.user_id, []).append(candidate)
    if not by_user:
        return {}
    redis_client = client()
    if per_user is None:
        per_user = isinstance(redis_client, RedisCluster)
    groups = list(by_user.items())
    calls = [[group] for group in groups] if per_user else [groups]
    script = redis_client.register_script(_DECIDE)
    pipe = redis_client.pipeline(transaction=False)
    for call in calls:
        keys, users = _script_input(call)
        script(keys=keys, args=[json.dumps(users), "1" if dry_run else "0"], client=pipe)
    decisions: dict[int, Decision] = {}
    for call, verdicts in zip(calls, pipe.execute(), strict=True):
        for item, raw in zip((item for _, items in call for item in items), verdicts, strict=True):
            verdict = raw.decode() if isinstance(raw, bytes) else raw
            if verdict == "ok":
                decisions[item.notification_id] = Decision(True)
            elif verdict.startswith("duplicate:"):
                decisions[item.notification_id] = Decision(False, duplicate_of=int(verdict.split(":", 1)[1]))
            else:
                _, window_ms, maximum = verdict.split(":")
                decisions[item.notification_id] = Decision(False, cap=(int(window_ms) // 1000, int(maximum)))
    return decisions


def _script_input(users: list[tuple[str, list[Candidate]]]) -> tuple[list[str], list[dict]]:
    """One script call's KEYS and the JSON list of its users (see _DECIDE)."""
    keys: list[str] = []
    payload: list[dict] = []
    for user_id, items in users:
        keys.append(caps_key(user_id))
        caps_index = len(keys)
        entries = []
        for item in items:
            index = 0
            if item.dedup_key and item.dedup_seconds > 0:
                keys.append(f"{PREFIX}:dedup:{user_id}:{item.dedup_key}")
                index = len(keys)
            caps = [[seconds * 1000, maximum] for seconds, maximum in sorted(item.caps)]
            # The id as text: Lua numbers print with 14 significant digits, and ids carrying their day have 15.
            entries.append(
                {"id": str(item.notification_id), "caps": caps, "d": index, "ttl": item.dedup_seconds * 1000}
            )
        longest = max((seconds for item in items for seconds, _ in item.caps), default=0) * 1000
        payload.append({"k": caps_index, "w": longest, "items": entries})
    return keys, payload


def counts(user_id: str, windows: Sequence[int]) -> dict[int, int]:
    """How many marketing pushes the user got in each window (seconds) until now: for the admin."""
    redis_client = client()
    seconds, micros = redis_client.time()
    now_ms = seconds * 1000 + micros // 1000
    pipe = redis_client.pipeline(transaction=False)
    for window in windows:
        pipe.zcount(caps_key(user_id), now_ms - window * 1000, "+inf")
    return dict(zip(windows, pipe.execute(), strict=True))
