"""Real Celery worker processes, for the tests and the benchmarks, pointed at a given database,
Redis and provider simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import dj_database_url
from django.db import connection

from pushsim.control import Simulator, free_port, stop

ROOT = Path(__file__).resolve().parents[1]


def database_environment(settings_module: str = "config.test_settings", **overrides: str) -> dict[str, str]:
    """The environment of a `manage.py` process working on this process's database."""
    database = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        **overrides,
    }


@contextmanager
def pointed_at(url: str) -> Iterator[None]:
    """This process's Django connection on the database at `url` for a while; the processes started meanwhile
    follow (database_environment reads the connection's settings)."""
    keys = ("NAME", "USER", "PASSWORD", "HOST", "PORT")
    target = dj_database_url.parse(url)
    settings_dict = connection.settings_dict
    saved = {key: settings_dict[key] for key in keys}
    connection.close()
    settings_dict.update({key: target[key] for key in keys})
    try:
        yield
    finally:
        connection.close()
        settings_dict.update(saved)


def worker_environment(
    simulator: Simulator, settings_module: str = "config.test_settings", **overrides: str
) -> dict[str, str]:
    """What a worker needs to work on this process's database with providers pointed at the simulator."""
    apns = json.loads(simulator.paths.apns_meta.read_text())
    env = {
        **database_environment(settings_module),
        "FCM_CREDENTIALS_FILE": str(simulator.paths.service_account),
        "FCM_ENDPOINT": simulator.base_url,
        "APNS_KEY_FILE": str(simulator.paths.apns_key),
        "APNS_KEY_ID": apns["key_id"],
        "APNS_TEAM_ID": apns["team_id"],
        "APNS_TOPIC": apns["topic"],
        "APNS_ENDPOINT": simulator.apns_endpoint,
        "APNS_CA_FILE": str(simulator.paths.ca_cert),
        "VAPID_PRIVATE_KEY": str(simulator.paths.vapid_private),
        # The simulator's Web Push endpoints are http://127.0.0.1:<port>/wp/…: development settings only.
        "WEB_PUSH_ALLOW_HTTP_ENDPOINTS": "1",
        "WEB_PUSH_ALLOW_PRIVATE_ADDRESSES": "1",
        "DELIVERY_BACKOFF_BASE_SECONDS": "0.1",
        "DELIVERY_BACKOFF_CAP_SECONDS": "1",
    }
    env.update(overrides)
    return env


class Worker:
    def __init__(self, process: subprocess.Popen, name: str) -> None:
        self.process = process
        self.name = name
        self.ready = threading.Event()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)
            if " ready." in line:
                self.ready.set()

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def celery_worker(
    env: dict[str, str], queues: str, name: str, concurrency: int = 1, *, beat: bool = False, nice: int = 0
) -> Iterator[Worker]:
    """A worker process; with `beat`, it also runs the periodic tasks; `nice` lowers its CPU priority."""
    embedded_beat = ["--beat", "--scheduler", "config.beat:DatabaseScheduler"] if beat else []
    niced = ["nice", "-n", str(nice)] if nice else []
    process = subprocess.Popen(
        [
            *niced,
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--queues",
            queues,
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"{name}-{time.monotonic_ns()}@test",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            *embedded_beat,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    worker = Worker(process, name)
    try:
        if not worker.ready.wait(60):
            raise RuntimeError("worker did not start:\n" + "".join(worker.log[-30:]))
        yield worker
    finally:
        worker.stop()


@contextmanager
def celery_beat(env: dict[str, str], log: Path | None = None) -> Iterator[subprocess.Popen]:
    """Celery beat as its own process, as in the Procfile (dispatch of due sends, sweeps, progress);
    its output to `log` if given."""
    with open(log, "ab") if log else nullcontext() as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING"),
                *("--scheduler", "config.beat:DatabaseScheduler"),
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop(process)


@contextmanager
def web_process(env: dict[str, str]) -> Iterator[str]:
    """One uvicorn process serving the API; yields its base URL once /healthz answers."""
    port = free_port()
    web = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port)),
            *("--no-access-log", "--lifespan", "off", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/healthz")
        yield base
    finally:
        stop(web)


def wait_until_up(url: str) -> None:
    import httpx

    for _ in range(100):
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")
