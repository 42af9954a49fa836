#!/usr/bin/env python3
"""Stop at once, with a clear message, when PostgreSQL or Redis is not reachable.

Runs before anything is installed, so it uses the standard library only. It
reads DATABASE_URL and REDIS_URL from the environment or from `.env`, with
the same local defaults as config/settings.py.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/pushcart",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": (
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
        "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
    ),
}


def _dotenv() -> dict[str, str]:
    values: dict[str, str] = {}
    path = ROOT / ".env"
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.lstrip().startswith("#"):
                values[name.strip()] = value.strip().strip("'\"")
    return values


def setting(name: str, test: bool = False) -> str:
    if test and name == "REDIS_URL":
        return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    return os.environ.get(name) or _dotenv().get(name) or DEFAULTS[name]


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        url = url.replace(f":{parts.password}@", ":***@")
    return url


def reachable(url: str, default_port: int) -> str | None:
    """None if a TCP connection opens, else why not."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def main() -> int:
    test = "--test" in sys.argv
    failures = []
    for service, name, port in (("PostgreSQL", "DATABASE_URL", 5432), ("Redis", "REDIS_URL", 6379)):
        url = setting(name, test=test)
        problem = reachable(url, port)
        if problem:
            failures.append(
                f"{service} is not reachable at {_redact(url)} ({problem}).\n"
                f"  Start it with:  {HOW_TO_START[service]}\n"
                f"  or point {name} at a running server."
            )
    for failure in failures:
        print(f"pushcart: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
