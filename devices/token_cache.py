"""Each user's live push tokens, cached in Redis for the sending path.

PostgreSQL is the source of truth; Redis holds, per user, a hash of their
active devices (field: token, value: the compact JSON the sender needs) plus a
marker field, so "cached with no devices" differs from "not cached". Reading
the tokens of 1,000 users is one pipelined round trip; users that miss are
loaded from the database in one query and written back, except by bulk reads
(`fill=False`, a campaign's pages): a shopper pushed once by a campaign would
cost a Redis write that is rarely read again, and a million of them would
crowd out the entries order updates read.

Keeping the cache in step without races: every change to a user's devices
bumps the user's generation counter after the database commit and then
rewrites the user's hash from the database, but only if the generation is
still the one it bumped (a later change will write a fresher copy). A reader
filling a miss does the same with the generation it saw before reading the
database, and never overwrites an existing hash. A fill that raced with a
change therefore either loses, or is overwritten by the change's own rewrite.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

from config import bulk_sql
from config.redis_client import client
from devices.models import Device

logger = logging.getLogger(__name__)

LOADED_MARKER = "~"

# KEYS: hash, generation. ARGV: expected generation ("" for none), ttl,
# "fill" (only if absent) or "replace", then field/value pairs.
_WRITE_IF_GENERATION = """
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[1] then return 0 end
if ARGV[3] == 'fill' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


@dataclass(frozen=True, slots=True)
class DeviceTarget:
    """What the sending path needs of one active device."""

    device_id: int
    user_id: str
    platform: str
    provider: str
    token: str
    locale: str
    timezone: str
    app_id: str
    app_version: str
    web_push_p256dh: str
    web_push_auth: str

    def to_json(self) -> str:
        return json.dumps(
            [
                self.device_id,
                self.platform,
                self.provider,
                self.locale,
                self.timezone,
                self.app_id,
                self.app_version,
                self.web_push_p256dh,
                self.web_push_auth,
            ],
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, user_id: str, token: str, raw: bytes | str) -> DeviceTarget:
        device_id, platform, provider, locale, tz, app_id, app_version, p256dh, auth = json.loads(raw)
        return cls(device_id, user_id, platform, provider, token, locale, tz, app_id, app_version, p256dh, auth)


def _hash_key(user_id: str) -> str:
    return f"{settings.DEVICE_TOKEN_CACHE_PREFIX}:u:{user_id}"


def _generation_key(user_id: str) -> str:
    return f"{settings.DEVICE_TOKEN_CACHE_PREFIX}:g:{user_id}"


_TARGET_COLUMNS = ", ".join(
    "id" if f.name == "device_id" else Device._meta.get_field(f.name).column for f in dataclasses.fields(DeviceTarget)
)
# As tuples, not models, and the users as one array parameter bound in binary (not one placeholder each):
# a campaign page reads 1,000 shoppers' devices at once.
_ACTIVE_DEVICES = f"""
SELECT {_TARGET_COLUMNS} FROM {Device._meta.db_table}
WHERE user_id = ANY(%b::text[]) AND is_active ORDER BY id
"""  # noqa: S608 - only column and table names are formatted in


def _load_from_database(user_ids: Iterable[str]) -> dict[str, list[DeviceTarget]]:
    loaded: dict[str, list[DeviceTarget]] = {user_id: [] for user_id in user_ids}
    for row in bulk_sql.execute(_ACTIVE_DEVICES, [list(loaded)]):
        target = DeviceTarget(*row)
        loaded[target.user_id].append(target)
    return loaded


def _write(pipe: redis.client.Pipeline, user_id: str, generation: str, targets: list[DeviceTarget], mode: str) -> None:
    fields: list[str] = [LOADED_MARKER, "1"]
    for target in targets:
        fields.extend((target.token, target.to_json()))
    _write_script()(
        keys=[_hash_key(user_id), _generation_key(user_id)],
        args=[generation, settings.DEVICE_TOKEN_CACHE_TTL_SECONDS, mode, *fields],
        client=pipe,
    )


@lru_cache(maxsize=1)
def _write_script() -> redis.commands.core.Script:
    # EVALSHA: a fill of 1,000 shoppers doesn't send the script's text 1,000 times.
    return client().register_script(_WRITE_IF_GENERATION)


def tokens_for_users(user_ids: Iterable[str], *, fill: bool = True) -> dict[str, list[DeviceTarget]]:
    """The active devices of each user: one Redis round trip when all are cached.

    Users not cached are read from the database and, if `fill`, cached.
    """
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return {}
    redis_client = client()
    pipe = redis_client.pipeline(transaction=False)
    for user_id in wanted:
        pipe.hgetall(_hash_key(user_id))
    cached = pipe.execute()

    result: dict[str, list[DeviceTarget]] = {}
    missing: list[str] = []
    for user_id, fields in zip(wanted, cached, strict=True):
        if not fields:
            missing.append(user_id)
            continue
        result[user_id] = [
            DeviceTarget.from_json(user_id, token.decode(), raw)
            for token, raw in fields.items()
            if token != LOADED_MARKER.encode()
        ]
    if missing:
        result.update(_fill(missing) if fill else _load_from_database(missing))
    return result


def _fill(user_ids: list[str]) -> dict[str, list[DeviceTarget]]:
    """Load users that missed from the database and cache them."""
    redis_client = client()
    generations = [g.decode() if g else "" for g in redis_client.mget([_generation_key(u) for u in user_ids])]
    loaded = _load_from_database(user_ids)
    pipe = redis_client.pipeline(transaction=False)
    for user_id, generation in zip(user_ids, generations, strict=True):
        _write(pipe, user_id, generation, loaded[user_id], mode="fill")
    pipe.execute()
    return loaded


def refresh_users(user_ids: Iterable[str]) -> None:
    """Rewrite the cached devices of users whose devices changed (call after commit)."""
    changed = sorted(set(user_ids))
    if not changed:
        return
    redis_client = client()
    pipe = redis_client.pipeline(transaction=False)
    for user_id in changed:
        pipe.incr(_generation_key(user_id))
        # The counter only has to outlive a concurrent fill, not the cache entry.
        pipe.expire(_generation_key(user_id), settings.DEVICE_TOKEN_CACHE_TTL_SECONDS)
    replies = pipe.execute()
    generations = [str(reply) for reply in replies[0::2]]
    loaded = _load_from_database(changed)
    pipe = redis_client.pipeline(transaction=False)
    for user_id, generation in zip(changed, generations, strict=True):
        _write(pipe, user_id, generation, loaded[user_id], mode="replace")
    pipe.execute()


def refresh_users_after_commit(user_ids: Iterable[str]) -> None:
    """Schedule refresh_users for when the current transaction commits.

    A Redis failure here must not undo or fail a change that PostgreSQL has
    already committed: the stale entry is dropped instead if Redis answers,
    and otherwise it expires (DEVICE_TOKEN_CACHE_TTL_SECONDS); the log says so.
    """
    from django.db import transaction

    users = sorted(set(user_ids))

    def run() -> None:
        try:
            refresh_users(users)
        except redis.RedisError:
            logger.exception("Token cache refresh failed for %d user(s); dropping their entries", len(users))
            try:
                client().delete(*[_hash_key(u) for u in users])
            except redis.RedisError:
                logger.error("Token cache unreachable; entries of %s expire on their own", users[:10])

    transaction.on_commit(run)
