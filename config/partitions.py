"""Tables partitioned by day through their ids, so that a day past its retention is dropped, not deleted.

The engine's big tables (notifications, their content, deliveries, attempts, events) are partitioned by RANGE of
`id`, one partition per UTC day, and each new id carries its day: `day number * 10^10 + a sequence value`
(`pushcart_day_id`, the column's default and what `config.bulk_sql.take_ids` hands out). So:
- the primary key stays `id` alone and stays unique across the whole table (a unique index on a partitioned
  table must contain the partition key: `id` is it), and every lookup by id (the engine's claims and conditional
  updates, foreign keys, the admin) reads one partition's index, not every day's;
- a day's partition is known before its first row: beat creates them `PARTITION_DAYS_AHEAD` days ahead and, past
  a table's retention, detaches one CONCURRENTLY (no lock that blocks readers or writers) and drops it: the
  cost of forgetting a day is a catalog change, whatever the day held.
Ids of day 20,787 (2026-11-30) are about 2.08 * 10^14: within JavaScript's exact integers (2^53 ≈ 9 * 10^15) for
two centuries, and 10^10 ids a day before a day's ids wrap (then they stay unique, only their order in that day
breaks). The day is the id's, not the row's `created_at`: a campaign batch's ids are taken when its page is
fanned out and its rows written when it is sent, maybe after midnight; a day's rows are dropped together.

Rows of a table converted from an unpartitioned one (`partition_by_day`, run by a migration) stay in one
partition below the first day (`<table>_before`), attached without rewriting them, and age out as a whole.
No DEFAULT partition: it would forbid DETACH … CONCURRENTLY. A missing day fails the insert loudly instead, and
beat keeps a week ahead (`days_ahead` in /metrics says how many days are ready).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

DAY_SPAN = 10**10  # ids a day can hold
EPOCH = date(1970, 1, 1)
DAY_ID_FUNCTION = "pushcart_day_id"

CREATE_DAY_ID_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {DAY_ID_FUNCTION}(seq regclass) RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT floor(extract(epoch FROM now()) / 86400)::bigint * {DAY_SPAN} + nextval(seq) % {DAY_SPAN}
$$
"""  # noqa: S608 - constants only


def today() -> date:
    return datetime.now(UTC).date()


def first_id(day: date) -> int:
    """The lowest id of a UTC day."""
    return (day - EPOCH).days * DAY_SPAN


def day_of(pk: int) -> date:
    """The UTC day an id was taken on."""
    return EPOCH + timedelta(days=pk // DAY_SPAN)


# SQL bounds on an id, for a query that finds rows by another column (a time, a foreign key): with them, the
# partitions that can't hold the rows are not read (pruned when planning for values, when running for a join's
# outer row). A partition not pruned costs an index probe per lookup: a rollup's per-fact lookups read every day
# kept without them. Rows converted from before partitioning (ids below DAY_SPAN) are in every bound.


def taken_in_days_sql(column: str, first: str, end: str) -> str:
    """SQL: the id `column` was taken on a day from the first id `first` (SQL) on, and before the first id `end`."""
    return f"({column} < {DAY_SPAN} OR ({column} >= {first} AND {column} < {end}))"


def taken_since_day_of_sql(column: str, earlier_id: str) -> str:
    """SQL: the id `column` was taken on the day of the id `earlier_id` (SQL) or later, as any id taken after it.
    (For an id of a converted row the bound is 0.)"""
    return f"{column} >= {earlier_id} / {DAY_SPAN} * {DAY_SPAN}"  # bigint division: the day's first id


def taken_before_day_after_sql(column: str, timestamp: str) -> str:
    """SQL: the id `column` was taken before the end of the day after `timestamp`'s (SQL), as an id taken before
    `timestamp` by a clock less than a day from the database's."""
    return f"{column} < (floor(extract(epoch FROM {timestamp}) / 86400)::bigint + 2) * {DAY_SPAN}"


def ids_around(since: datetime, until: datetime) -> tuple[int, int]:
    """The first ids of the day before `since`'s and of the day after `until`'s: ids taken between the two times,
    by clocks less than a day apart, are within."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    return first_id((since - timedelta(days=1)).date()), first_id((until + timedelta(days=2)).date())


def partition_name(table: str, day: date) -> str:
    return f"{table}_d{day:%Y%m%d}"


@dataclass(frozen=True)
class Partition:
    name: str
    lower: int | None  # None: MINVALUE (the rows from before the table was partitioned)
    upper: int
    last_day: date  # the day of its newest rows: it goes once that day is past retention
    detaching: bool = False  # a DETACH … CONCURRENTLY that was interrupted: finalized on the next run


_BOUND = re.compile(r"FROM \((MINVALUE|'?(-?\d+)'?)\) TO \('?(-?\d+)'?\)")


def partitions(table: str) -> list[Partition]:
    """The table's partitions, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), i.inhdetachpending, "
            "obj_description(c.oid, 'pg_class') "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [table],
        )
        rows = cursor.fetchall()
    found = []
    for name, bound, detaching, comment in rows:
        match = _BOUND.search(bound)
        if match is None:  # not one of ours (e.g. a DEFAULT partition an operator added): left alone
            continue
        lower = None if match.group(1) == "MINVALUE" else int(match.group(2))
        upper = int(match.group(3))
        # The rows from before partitioning are as new as the day the table was converted (its comment says).
        converted = _CONVERTED.search(comment or "")
        last_day = date.fromisoformat(converted.group(1)) if converted else day_of(upper - 1)
        found.append(Partition(name, lower, upper, last_day, detaching))
    return sorted(found, key=lambda p: p.upper)


_CONVERTED = re.compile(r"rows written until (\d{4}-\d{2}-\d{2})")


def create_partitions(table: str, first: date, last: date) -> list[str]:
    """Partitions for the days first..last that don't exist yet; returns the names created."""
    existing = {p.name for p in partitions(table)}
    created = []
    day = first
    with connection.cursor() as cursor:
        while day <= last:
            name = partition_name(table, day)
            if name not in existing:
                cursor.execute(
                    f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{table}" '
                    f"FOR VALUES FROM ({first_id(day)}) TO ({first_id(day + timedelta(days=1))})"
                )
                created.append(name)
            day += timedelta(days=1)
    return created


def drop_partitions_before(table: str, day: date, *, lock_timeout: str = "5s") -> list[str]:
    """Drop the partitions holding only rows of days before `day`: detached CONCURRENTLY, then dropped.

    Outside any transaction (DETACH … CONCURRENTLY can't run in one). Readers and writers of the table are not
    blocked; the detach waits for the transactions that use the partition, at most `lock_timeout` for its locks,
    and a timed-out or interrupted one is finished by the next run.
    """
    if connection.in_atomic_block:
        raise RuntimeError("drop_partitions_before must run outside a transaction (DETACH … CONCURRENTLY)")
    dropped = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, false)", [lock_timeout])
        try:
            for partition in partitions(table):
                if partition.last_day >= day:
                    continue
                how = "FINALIZE" if partition.detaching else "CONCURRENTLY"
                cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{partition.name}" {how}')
                cursor.execute(f'DROP TABLE "{partition.name}"')
                dropped.append(partition.name)
        finally:
            cursor.execute("RESET lock_timeout")
    return dropped


def maintain(kept_days: dict[str, int]) -> dict[str, list[str]]:
    """For each table: partitions until PARTITION_DAYS_AHEAD days ahead, and none older than its days kept."""
    first = today()
    done: dict[str, list[str]] = {"created": [], "dropped": []}
    for table, days in kept_days.items():
        done["created"] += create_partitions(table, first, first + timedelta(days=settings.PARTITION_DAYS_AHEAD))
        done["dropped"] += drop_partitions_before(table, first - timedelta(days=days))
    return done


def partitioned_tables() -> list[str]:
    """The tables partitioned by day (the partitioned tables of the current schema)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'p' AND NOT c.relispartition "
            "AND c.relnamespace = current_schema()::regnamespace ORDER BY 1"
        )
        return [name for (name,) in cursor.fetchall()]


def days_ahead(table: str) -> int:
    """Whole days after today that already have their partition (0: only today's, -1: not even today's)."""
    ready = {p.name for p in partitions(table)}
    day, ahead = today(), -1
    while partition_name(table, day) in ready:
        ahead += 1
        day += timedelta(days=1)
    return ahead


# --- Converting an existing table (run by migrations) ------------------------------------------------------


def partition_by_day(table: str, *, drop_indexes: tuple[str, ...] = (), days_ahead: int = 7) -> None:
    """Turn a plain table with an integer `id` into one partitioned by day, keeping its rows where they are.

    Meant for a migration with `atomic = False`. The slow parts run first without locks that block the table's users
    (its CHECK on the id range is added NOT VALID and validated separately); then one short transaction renames the
    table to `<table>_before`, creates the partitioned table under the old name with the same columns, defaults,
    checks and indexes, attaches the old table as the partition of the ids below the first day's (its indexes become
    the partitions of the new ones: nothing is rebuilt; its comment records the day, which its retention counts
    from) and creates today's and the next days' partitions. `drop_indexes`: unique indexes that can't hold across
    partitions (they lack the id), dropped. Foreign keys from and to the table are dropped: rows of a day go away by
    DROP, which no foreign key allows cheaply (the models declare them with db_constraint=False, and Django's
    on_delete still applies).
    """
    old = f"{table}_before"
    check = f"{table}_before_ids"[:63]
    started = time.monotonic()
    with connection.cursor() as cursor:
        # The old rows' ids came from a plain sequence: all of them are below the first day's (1970-01-02's) ids,
        # so every real day, past ones included (a restored backup, a benchmark's history), can have a partition.
        cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"')  # noqa: S608 - a table's name
        boundary = DAY_SPAN if cursor.fetchone()[0] < DAY_SPAN else first_id(today())
        cursor.execute(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{check}" CHECK (id IS NOT NULL AND id < {boundary}) NOT VALID'
        )
        cursor.execute(f'ALTER TABLE "{table}" VALIDATE CONSTRAINT "{check}"')
    validated = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        for name in drop_indexes:  # a UniqueConstraint is a constraint, or (with a condition) only an index
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"')
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'f' AND (conrelid = %s::regclass OR confrelid = %s::regclass)",
            [table, table],
        )
        for owner, name in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {owner} DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisprimary FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass",
            [table],
        )
        indexes = cursor.fetchall()
        cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        sequence = _own_sequence(cursor, table, old)
        cursor.execute(
            f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE '
            "INCLUDING COMMENTS) PARTITION BY RANGE (id)"
        )
        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{check}"')  # the old rows' own
        cursor.execute(f"ALTER TABLE \"{table}\" ALTER COLUMN id SET DEFAULT {DAY_ID_FUNCTION}('{sequence}')")
        cursor.execute(f'ALTER SEQUENCE "{sequence}" OWNED BY "{table}".id')
        for name, definition, primary in indexes:
            legacy_name = f"{name[:55]}_before"
            cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{legacy_name}"')
            if primary:  # renaming its index renamed the constraint too
                cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" PRIMARY KEY (id)')
            else:
                cursor.execute(_on_parent(definition, table))
        cursor.execute(f'ALTER TABLE "{table}" ATTACH PARTITION "{old}" FOR VALUES FROM (MINVALUE) TO ({boundary})')
        cursor.execute(f'ALTER TABLE "{old}" DROP CONSTRAINT "{check}"')
        cursor.execute(
            f'COMMENT ON TABLE "{old}" IS \'The rows written until {today().isoformat()}, before the '
            "table was partitioned by day (config.partitions).'"
        )
    swapped = time.monotonic()
    create_partitions(table, today(), today() + timedelta(days=days_ahead))
    logger.info(
        "%s partitioned by day: check validated in %.2f s (writers not blocked), swapped under its lock in %.3f s",
        table,
        validated - started,
        swapped - validated,
    )


def _own_sequence(cursor: Any, table: str, old: str) -> str:
    """A sequence of the new table's own for the id's day-local part (the old one may be an identity's)."""
    sequence = f"{table}_day_seq"[:63]
    cursor.execute(f'CREATE SEQUENCE IF NOT EXISTS "{sequence}"')
    cursor.execute("SELECT attidentity FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'id'", [old])
    if cursor.fetchone()[0]:
        cursor.execute(f'ALTER TABLE "{old}" ALTER COLUMN id DROP IDENTITY')
    else:
        cursor.execute(f'ALTER TABLE "{old}" ALTER COLUMN id DROP DEFAULT')
    return sequence


def _on_parent(definition: str, table: str) -> str:
    """`CREATE [UNIQUE] INDEX name ON public.<old> USING …` as the same index on the partitioned table."""
    return re.sub(r" ON (?:ONLY )?\S+ USING ", f' ON "{table}" USING ', definition, count=1)
