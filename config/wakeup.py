"""One queued task per kind of waiting work, however many requests add to it.

Each single-event request used to queue a task of its own: under load, hundreds of Celery messages a second,
each with its worker overhead and its queries, most of them finding their event already taken by an earlier
task (which takes what is waiting, up to a batch). Now a producer queues the task only when no task for the
same work is queued and not yet started:

    producer: store the work (committed) → wake(name, task, args)   queues the task unless the flag is set
    task:     started(name)                                          clears the flag, then takes what waits

Work committed before the task clears the flag is taken by it; work committed after sets the flag again and
queues another task, so nothing waits for a task that already looked. The flag expires after WAKE_TTL
seconds, so a lost task (a broker restart) holds nothing up for long, and the beat's sweeps find lost work as
before. Without Redis, every producer queues its task, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis

logger = logging.getLogger(__name__)

PREFIX = "pc:wake"
WAKE_TTL = 5  # seconds


def wake(name: str, task: Any, *, args: Sequence[Any], queue: str, kwargs: dict[str, Any] | None = None) -> bool:
    """Queue `task` unless one queued for `name` has not started yet; True if queued."""
    from devices.token_cache import client

    try:
        queued = client().set(f"{PREFIX}:{name}", 1, nx=True, ex=WAKE_TTL) is None
    except redis.RedisError:
        logger.warning("wake %s: Redis unavailable, queueing the task anyway", name)
        queued = False
    if queued:
        return False
    task.apply_async(args=list(args), kwargs=kwargs, queue=queue)
    return True


def started(name: str) -> None:
    """The task for `name` has started: whatever arrives from now on queues another."""
    from devices.token_cache import client

    try:
        client().delete(f"{PREFIX}:{name}")
    except redis.RedisError:
        logger.warning("wake %s: Redis unavailable", name)
