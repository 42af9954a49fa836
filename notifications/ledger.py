"""The pushes providers accepted, remembered in Redis outside the transaction that records them.

A batch keeps its transaction open while its pushes go out (notifications.delivery). When PostgreSQL fails
before the commit (a failover, a restart, a crash), the batch rolls back and is sent again, and without this
ledger every push it had sent would go twice: a campaign batch is 1,000 pushes. So each push a provider accepts
is written here as its answer arrives (the task's thread writes what arrived every FLUSH_SECONDS while it waits
for the providers, one pipelined round trip), under its notification and device. A batch sent again looks its
pushes up before sending and settles those found as delivered, with the provider's message id, instead of
sending them. Entries are kept KEEP_SECONDS, not deleted when the outcomes commit: a commit PostgreSQL has
acknowledged can still be lost (the marketing workers commit without waiting for the WAL flush, and a failover to
an asynchronous replica loses its last transactions), and the batch then comes back `pending`, to be sent again.

The window left (docs/ARCHITECTURE.md, "What must not happen"): a push the provider accepted whose answer had not
reached the worker, or had not been written here (at most FLUSH_SECONDS), when the worker died; and entries that
Redis loses when it restarts without persistence in the same seconds as PostgreSQL fails. If Redis can't be
reached, pushes are sent as before (nothing is held up) and the ledger's help is lost for that batch: a warning
says so.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence

import redis

from config.redis_client import client
from notifications.records import Claimed
from providers.base import Outcome, OutcomeKind, OutcomeReport

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.005  # what arrived is written this often while a batch is out (one round trip, pipelined)
PATIENCE_SECONDS = 10.0  # a batch's last writes wait this long for Redis to come back
# Longer than a batch waits to be sent again (the sweeps requeue a lost one within seconds of PostgreSQL's return)
# many times over; at 50,000 pushes a minute, 500,000 entries (about 50 MB).
KEEP_SECONDS = 10 * 60
_BUCKET = 1024  # notifications per hash: a batch's lookups are one or two HMGETs
_PREFIX = "pushcart:accepted:"
_NO_ID = b"-"  # an accepted push whose provider named no message id

Key = tuple[int, int]  # (notification id, device id): a delivery's identity across a resend (its id is new)


def key_of(item: Claimed) -> Key:
    return item.notification_id, item.device_id


def _address(key: Key) -> tuple[str, str]:
    """Where a push is remembered: its hash (its notification's bucket) and its field in that hash."""
    notification_id, device_id = key
    return f"{_PREFIX}{notification_id // _BUCKET}", f"{notification_id}:{device_id}"


def _by_hash(keys: Iterable[Key]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        name, field = _address(key)
        fields[name].append(field)
    return fields


def accepted(keys: Iterable[Key]) -> dict[Key, str]:
    """The pushes among `keys` a provider already accepted (their batch rolled back): {key: message id}."""
    fields = _by_hash(keys)
    if not fields:
        return {}
    try:
        pipe = client().pipeline(transaction=False)
        for name, names in fields.items():
            pipe.hmget(name, names)
        answers = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("The sent-push ledger can't be read (%s): pushes are sent without it", exc)
        return {}
    found: dict[Key, str] = {}
    for names, values in zip(fields.values(), answers, strict=True):
        for name, value in zip(names, values, strict=True):
            if value is not None:
                notification_id, device_id = name.split(":")
                found[int(notification_id), int(device_id)] = "" if value == _NO_ID else value.decode()
    return found


def write(entries: Sequence[tuple[Key, str]]) -> None:
    """Remember accepted pushes: (key, the provider's message id). Raises redis.RedisError."""
    pipe = client().pipeline(transaction=False)
    names = set()
    for key, message_id in entries:
        name, field = _address(key)
        pipe.hset(name, field, message_id or _NO_ID)
        names.add(name)
    for name in names:
        pipe.expire(name, KEEP_SECONDS)
    pipe.execute()


class Recorder:
    """Collects the accepted pushes of the batches in flight (reported on the providers' thread) and writes them
    from the task's thread while it waits (wait())."""

    def __init__(self) -> None:
        self._arrived: deque[tuple[Key, str]] = deque()  # appended on the providers' thread, popped on the task's

    def reporter(self, items: Sequence[Claimed]) -> OutcomeReport:
        """The report for a provider batch of `items` (in the order they were sent)."""
        arrived = self._arrived

        def report(index: int, outcome: Outcome) -> None:
            if outcome.kind is OutcomeKind.DELIVERED:
                arrived.append((key_of(items[index]), outcome.message_id[:255]))

        return report

    def wait(self, futures: Sequence[concurrent.futures.Future]) -> None:
        """Until every future is done, writing what arrived every FLUSH_SECONDS; then the rest, waiting up to
        PATIENCE_SECONDS for Redis if it is away (restarting, perhaps with PostgreSQL: the batch's outcomes could
        not be committed now either, and what the ledger is told before the batch is sent again is not resent)."""
        pending = set(futures)
        while pending:
            _, pending = concurrent.futures.wait(
                pending, timeout=FLUSH_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED
            )
            self._flush(quiet=True)
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not self._flush(quiet=time.monotonic() < deadline) and time.monotonic() < deadline:
            time.sleep(0.5)

    def _flush(self, *, quiet: bool) -> bool:
        """Writes what arrived; False (and the entries kept for the next try) if Redis can't be reached."""
        if not self._arrived:
            return True
        taken = []
        while self._arrived:
            taken.append(self._arrived.popleft())
        try:
            write(taken)
        except redis.RedisError as exc:
            if quiet:
                self._arrived.extendleft(reversed(taken))
            else:
                logger.warning("The sent-push ledger can't be written (%s): %d accepted pushes lost", exc, len(taken))
            return False
        return True
