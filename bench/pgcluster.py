"""A throwaway PostgreSQL server of its own, for the tests and benchmarks that restart or crash it (issue 21).

The shared server (127.0.0.1:5432) serves every test and benchmark at once, so none may stop it; this one is
initdb'ed into a temporary directory on a free port in a second or two, and dropped afterwards::

    with running_cluster() as cluster:
        url = cluster.create_database("pushcart")       postgresql://postgres@127.0.0.1:<port>/pushcart
        cluster.restart()                              a clean restart (pg_ctl -m fast): sessions ended, checkpoint
        cluster.crash(down_seconds=5)                  pg_ctl -m immediate (no checkpoint: crash recovery at the
                                                       next start), down for 5 s, started again

It is a real server (WAL, crash recovery, the same binaries as the shared one); only `fsync` is off, which
costs nothing but durability against a power cut, and a stop with `-m immediate` is still a crash to
PostgreSQL: it replays its WAL at the next start. Trust authentication for `postgres` on 127.0.0.1 only.

initdb refuses to run as root, so as root every PostgreSQL command runs as the `postgres` OS user (runuser)
in a directory that user owns, outside pytest's tmp_path (which only root can enter).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from pushsim.control import free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"  # the OS user that runs the server when we are root
START_TIMEOUT_SECONDS = 60  # pg_ctl -w -t: crash recovery included

# Small and quick: this server holds one test's or one benchmark's data, beside the shared server's.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "100",
    "shared_buffers": "128MB",
    "fsync": "off",  # see the module's docstring: still a real server, crash recovery included
    "full_page_writes": "off",
    "jit": "off",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


@dataclass
class Cluster:
    """A PostgreSQL server in `directory` on 127.0.0.1:`port`; what was done to it, with times, in `history`."""

    directory: Path
    port: int
    history: list[tuple[float, str]] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database `name` (empty); returns its URL."""
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def start(self) -> None:
        self._pg_ctl("start", "-l", str(self.log), "-t", str(START_TIMEOUT_SECONDS))
        self._note("up")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: `fast` ends the sessions and checkpoints; `immediate` kills the server (a crash)."""
        self._note(f"stopping ({mode})")
        self._pg_ctl("stop", "-m", mode)
        self._note("down")

    def restart(self, mode: str = "fast") -> None:
        """Stop (`fast`: sessions ended, a checkpoint) and start again at once, as a planned switchover does."""
        self.stop(mode)
        self.start()

    def crash(self, down_seconds: float) -> None:
        """Kill the server (no checkpoint, sessions cut), keep it down `down_seconds`, start it (crash recovery)."""
        self.stop("immediate")
        time.sleep(down_seconds)
        self.start()

    def is_up(self) -> bool:
        command = _as_server([str(PG_BIN / "pg_ctl"), "status", "-D", str(self.data)])
        return subprocess.run(command, capture_output=True).returncode == 0

    def _pg_ctl(self, action: str, *args: str) -> None:
        command = _as_server([str(PG_BIN / "pg_ctl"), action, "-D", str(self.data), "-w", *args])
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {action} failed ({result.returncode}): {result.stderr}\n{self._log_tail()}")

    def _note(self, what: str) -> None:
        self.history.append((time.time(), what))

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _as_server(command: list[str]) -> list[str]:
    """As root, run `command` as the server's OS user (initdb and postgres refuse root)."""
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """initdb a server into a new temporary directory, start it on a free port; stop it and delete it after."""
    directory = Path(tempfile.mkdtemp(prefix="pushcart-pg-"))
    if os.geteuid() == 0:
        server = pwd.getpwnam(SERVER_USER)
        os.chown(directory, server.pw_uid, server.pw_gid)
    cluster = Cluster(directory, free_port())
    try:
        initdb = [str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust"]
        result = subprocess.run(_as_server([*initdb, "--no-sync", "-E", "UTF8"]), capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}): {result.stderr}")
        settings = {**SETTINGS, "port": str(cluster.port), "unix_socket_directories": f"'{directory}'"}
        with (cluster.data / "postgresql.conf").open("a") as conf:  # as root: the file stays the server's
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        cluster.start()
        yield cluster
    finally:
        if cluster.data.exists() and cluster.is_up():
            subprocess.run(_as_server([str(PG_BIN / "pg_ctl"), "stop", "-D", str(cluster.data), "-m", "immediate"]))
        shutil.rmtree(directory, ignore_errors=True)
