"""A throwaway Redis server of its own, for the scenarios that crash it (issue 21: Redis and PostgreSQL together).

The shared server (127.0.0.1:6379) serves every test and benchmark at once, so none may stop it; this one runs
in a temporary directory on a free port::

    with running_redis() as server:
        url = server.url(0)                 redis://127.0.0.1:<port>/0
        server.crash(down_seconds=5)        SIGKILL (no save, no clean shutdown), down 5 s, started again

It persists as production's should (docs/ARCHITECTURE.md, "Processes and queues"): an append-only file written
every second (`appendfsync everysec`), so a crash loses at most the last second of writes: the broker's queued
tasks and the sent-push ledger (notifications.ledger) come back with it.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from pushsim.control import free_port

START_TIMEOUT_SECONDS = 30  # the append-only file replayed included


@dataclass
class RedisServer:
    directory: Path
    port: int
    appendonly: bool
    process: subprocess.Popen | None = None
    history: list[tuple[float, str]] = field(default_factory=list)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.appendonly else []
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)),
                *("--save", "", "--appendonly", "no", *persistence, "--logfile", str(self.directory / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                if client.ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
        self.history.append((time.time(), "up"))

    def crash(self, down_seconds: float) -> None:
        """SIGKILL: nothing saved beyond what the append-only file already holds; down, then started again."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.history.append((time.time(), "down (killed)"))
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@contextmanager
def running_redis(*, appendonly: bool = True) -> Iterator[RedisServer]:
    """A redis-server in a new temporary directory on a free port; killed and deleted after."""
    directory = Path(tempfile.mkdtemp(prefix="pushcart-redis-"))
    server = RedisServer(directory, free_port(), appendonly)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
