"""Create the database named by DATABASE_URL if it does not exist yet (idempotent)."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
from preflight import setting
from psycopg import sql


def main() -> int:
    url = setting("DATABASE_URL")
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"pushcart: created database {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
