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
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=False)
        rows = cursor.fetchall() if cursor.description is not None else []
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def take_ids(model: type[Model], count: int) -> list[int]:
    """`count` new ids from the sequence of `model`'s table, ascending: for rows written by `execute`."""
    return [pk for (pk,) in execute(_TAKE_IDS, [_sequence_of(model._meta.db_table), count])]


# The sequence is named once: looked up for every row, its name cost more than the ids themselves.
_TAKE_IDS = "SELECT nextval(%b::regclass) FROM generate_series(1, %b::int)"


@cache
def _sequence_of(table: str) -> str:
    [(name,)] = execute("SELECT pg_get_serial_sequence(%b, 'id')", [table])
    return name
