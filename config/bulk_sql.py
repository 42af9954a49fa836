"""Statements that carry a whole batch as array parameters (`INSERT … SELECT … FROM unnest(%b::bigint[], …)`).

Django's psycopg cursors bind parameters on the client, which turns each Python list into array text
element by element, in Python: 6 µs a row for a 7-column batch on this kind of machine, the largest
single cost of writing a batch. Bound on the server in PostgreSQL's binary format, the same batch
costs 1.6 µs a row. `execute` runs such a statement on Django's connection, inside whatever
transaction Django has open there, through a plain psycopg cursor; use `%b` for its placeholders.
Where Django logs queries (DEBUG, `django_assert_num_queries`), these statements are logged too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cache
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Model


def execute(sql: str, params: Sequence[Any]) -> list[tuple]:
    """Run one statement with binary server-side parameters; returns its rows (none for a plain write)."""
    connection.ensure_connection()
    # Not prepared: statements prepared on one server connection break behind a transaction-mode pooler.
    started = time.monotonic()
    # Errors as Django's cursors raise them (django.db.OperationalError when PostgreSQL goes away, not psycopg's):
    # the tasks' retry policy and the web's 503 know them, and the connection is marked for a health check.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=False)
        rows = cursor.fetchall() if cursor.description is not None else []
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def take_ids(model: type[Model], count: int) -> list[int]:
    """`count` new ids for `model`'s table, ascending, as its column default makes them: for rows written by
    `execute` (a table partitioned by day: ids carrying the day, config.partitions)."""
    take = f"SELECT {id_default(model)} FROM generate_series(1, %b::int)"  # noqa: S608 - the column default
    return [pk for (pk,) in execute(take, [count])]


def id_default(model: type[Model]) -> str:
    """The SQL expression that makes a new id for `model`'s table: its column default, or its sequence's next."""
    return _id_default(model._meta.db_table)


@cache
def _id_default(table: str) -> str:
    # Looked up once: looked up for every row, it cost more than the ids themselves.
    [(default, sequence)] = execute(
        "SELECT pg_get_expr(d.adbin, d.adrelid), pg_get_serial_sequence(%b, 'id') FROM pg_attribute a "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = %b::regclass AND a.attname = 'id'",
        [table, table],
    )
    return default if default else f"nextval('{sequence}'::regclass)"
