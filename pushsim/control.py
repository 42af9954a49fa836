"""Start the simulator as a subprocess and drive its control API (tests, benchmarks, the demo)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pushsim import credentials


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Ask a child process to end (SIGTERM); kill it if it hasn't within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Simulator:
    base_url: str
    apns_port: int
    paths: credentials.Paths
    process: subprocess.Popen | None = None

    @property
    def apns_endpoint(self) -> str:
        return f"https://127.0.0.1:{self.apns_port}"

    def _call(self, method: str, path: str, body: dict | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def configure(self, **settings: object) -> dict:
        return self._call("POST", "/control/config", settings)  # type: ignore[return-value]

    def reset(self) -> None:
        self._call("POST", "/control/reset", {})

    def stats(self) -> dict:
        return self._call("GET", "/control/stats")  # type: ignore[return-value]

    def messages(self, token: str) -> list[dict]:
        return self._call("GET", f"/control/messages?token={urllib.parse.quote(token)}")  # type: ignore[return-value]

    def received(self, prefix: str = "") -> dict[str, int]:
        """Messages received per token, for tokens starting with `prefix`."""
        return self._call("GET", f"/control/received?prefix={urllib.parse.quote(prefix)}")  # type: ignore[return-value]

    def cpu_seconds(self) -> float:
        """User + system CPU time the simulator process has used (Linux /proc)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def running(state_dir: Path, port: int | None = None, *args: str) -> Iterator[Simulator]:
    """Run `python -m pushsim` until the block ends; yields once it answers."""
    port = port or free_port()
    apns_port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    paths = credentials.ensure(state_dir, base_url)
    process = subprocess.Popen(  # noqa: S603 (our own module)
        [
            sys.executable,
            "-m",
            "pushsim",
            "--port",
            str(port),
            "--apns-port",
            str(apns_port),
            "--state-dir",
            str(state_dir),
            *args,
        ],
        stdout=subprocess.DEVNULL,
    )
    simulator = Simulator(base_url, apns_port, paths, process)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                simulator.stats()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pushsim did not start (exit code {process.poll()})") from None
                time.sleep(0.05)
        yield simulator
    finally:
        stop(process)
