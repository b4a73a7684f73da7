"""The few SQL spellings that differ between PostgreSQL and the embedded SQLite.

The set-based sweeps (earnings, settlement) are plain SQL over the selectors' compiled
querysets; everything vendor-specific they need is here.
"""

# SQL text below is built only from constants and Django-compiled querysets; every value
# is a bound parameter.
# ruff: noqa: S608

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet

from spark.lib.db import advisory_key


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def seconds_between(start: str, end: str) -> str:
    """Whole seconds from `start` to `end` (SQL expressions), rounded down."""
    if is_postgres():
        return f"FLOOR(EXTRACT(EPOCH FROM ({end} - {start})))"
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400.0, 3) AS INTEGER)"


def whole_minutes(seconds: str) -> str:
    """Seconds (non-negative, integral) to whole minutes, rounded down."""
    if is_postgres():
        return f"FLOOR(({seconds}) / 60)"
    return f"(({seconds}) / 60)"


def new_uuid() -> str:
    """A random UUID in the column format Django uses for UUIDField on this database."""
    if is_postgres():
        return "gen_random_uuid()"
    return "lower(hex(randomblob(16)))"


def param(value: Any) -> Any:
    """A datetime or date as the database driver wants it in a raw query."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return connection.ops.adapt_datefield_value(value)
    return value


def ts(placeholder: str = "%s") -> str:
    """A timestamp parameter, typed (PostgreSQL cannot infer types inside VALUES/CASE)."""
    return f"CAST({placeholder} AS TIMESTAMP WITH TIME ZONE)" if is_postgres() else placeholder


def compiled(qs: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """A selector's queryset as a sub-select (SQL, params) to use inside a set-based query."""
    sql, params = qs.query.sql_with_params()
    return f"({sql})", tuple(params)


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, [param(p) for p in params])
        return cursor.rowcount


def fetchall(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [param(p) for p in params])
        return list(cursor.fetchall())


def temp_table(name: str, columns: str) -> None:
    """A scratch table for this transaction (dropped on commit, or by `drop`)."""
    execute(f"DROP TABLE IF EXISTS {name}")
    suffix = " ON COMMIT DROP" if is_postgres() else ""
    execute(f"CREATE TEMP TABLE {name} ({columns}){suffix}")


def drop(name: str) -> None:
    execute(f"DROP TABLE IF EXISTS {name}")


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Many rows at once: COPY on PostgreSQL, else multi-row INSERTs of 2,000 rows."""
    if not rows:
        return
    if is_postgres():
        text = "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows)
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text))
        return
    width = len(columns)
    one = "(" + ", ".join(["%s"] * width) + ")"
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        values = ", ".join([one] * len(chunk))
        flat = [param(v) for row in chunk for v in row]
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}", flat)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    """One field of COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


@contextmanager
def advisory_session_lock(name: str) -> Iterator[None]:
    """Hold an advisory lock (spark.lib.db's key for `name`) on this connection until the block
    ends, across transactions; it conflicts with advisory_xact_lock(name). A connection that
    dies releases it."""
    if not is_postgres():
        yield
        return
    key = advisory_key(name)
    execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        execute("SELECT pg_advisory_unlock(%s)", [key])


def advisory_xact_lock(name: str) -> None:
    """Wait for a transaction-scoped advisory lock (SQLite serialises writers anyway). The key
    is spark.lib.db's, so that its try_advisory_xact_lock(name) meets this one."""
    if not is_postgres():
        return
    execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(name)])


def commit_without_waiting() -> None:
    """This transaction's commit returns before its WAL reaches the disk (PostgreSQL's
    asynchronous commit: a crash within ~0.6 s may lose the whole transaction, never part
    of it). Only for work that is idempotent and redone from elsewhere when lost, and only
    when this transaction is the outermost: a caller's transaction keeps its own promise."""
    if is_postgres() and len(connection.atomic_blocks) == 1:
        execute("SET LOCAL synchronous_commit = off")


def tune_for_bulk(*, merge_joins: bool = False) -> None:
    """Room for the joins and aggregates of a set-based run, for this transaction only.

    `merge_joins`, for a whole week's run (a shard of settlement's sweep): no nested loops
    and no hash joins. With the earnings table's statistics saying "empty" (the first week),
    a nested loop would scan it once per trip while the other shards fill it (minutes at 1 M
    trips). And side by side, two shards' four hash tables of 500,000 rows each (~30 MB
    apiece, as big as the shared cache) made probing them a third of the run; merging rows
    in id order took a 1 M-trip week's lines from 7.5-8.9 s to 6.5 s (P9). Either plan reads
    every accepted offer and delivered order once; the merge hands the rows over in trip
    order."""
    if is_postgres():
        execute("SET LOCAL work_mem = '256MB'")
        # JIT compiling a run's statements costs more than it saves: 0.7 s of a 1 M-trip
        # week's 8 s per shard went to compiling, and the compiled plan ran no faster.
        execute("SET LOCAL jit = off")
        if merge_joins:
            execute("SET LOCAL enable_nestloop = off")
            execute("SET LOCAL enable_hashjoin = off")


def reserve_ids(model: type[Model], n: int) -> list[int]:
    """n ids of `model`'s primary key, taken now and written later in this transaction."""
    table = model._meta.db_table
    if is_postgres():
        rows = fetchall(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
            [n],
        )
        return sorted(int(r[0]) for r in rows)
    # SQLite: one writer at a time (IMMEDIATE transactions), so max + 1.. is ours.
    start = int(fetchall(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0]) + 1
    return list(range(start, start + n))
