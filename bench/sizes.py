"""What a table takes on disk, its partitions included (a partitioned table's own size is 0)."""

from __future__ import annotations

from typing import Any

# Every relation of the table's partition tree (a plain table's tree is itself): table, indexes and TOAST.
_BYTES = """
SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint, coalesce(sum(pg_relation_size(relid)), 0)::bigint,
       coalesce(sum(pg_indexes_size(relid)), 0)::bigint
FROM pg_partition_tree(%s::regclass) WHERE isleaf
"""


def relation_bytes(cursor: Any, table: str) -> tuple[int, int, int, int]:
    """(total, heap, indexes) bytes of `table` with all its partitions, and its rows."""
    cursor.execute(_BYTES, [table])
    total, heap, indexes = cursor.fetchone()
    cursor.execute(f"SELECT count(*) FROM {table}")
    return int(total), int(heap), int(indexes), int(cursor.fetchone()[0])


# Each index of the table (a partitioned index: summed over its partitions' indexes), by the parent's name.
_INDEX_BYTES = """
SELECT i.indexrelid::regclass::text,
       (SELECT coalesce(sum(pg_relation_size(t.relid)), 0) FROM pg_partition_tree(i.indexrelid) AS t)::bigint
FROM pg_index AS i WHERE i.indrelid = %s::regclass ORDER BY 1
"""


def index_bytes(cursor: Any, table: str) -> dict[str, int]:
    """Bytes of each of `table`'s indexes, all partitions included."""
    cursor.execute(_INDEX_BYTES, [table])
    return {name: int(size) for name, size in cursor.fetchall()}
