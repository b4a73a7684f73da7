"""Small database helpers shared by the apps."""

import hashlib
from typing import TypeVar

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def one_or_none(qs: QuerySet[M]) -> M | None:
    """The row of a lookup by a unique key, or None.

    Unlike `.first()` this adds no ORDER BY id, which can make PostgreSQL walk the primary key
    index instead of using the unique index the filter names.
    """
    rows = list(qs[:1])
    return rows[0] if rows else None


def advisory_key(name: str) -> int:
    """The 64-bit PostgreSQL advisory lock key of a lock's name."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def try_advisory_xact_lock(name: str) -> bool:
    """Take a transaction-scoped advisory lock without waiting; False if someone holds it.

    On SQLite there are no advisory locks, but every write transaction is serialised by the
    database lock (IMMEDIATE transactions), which gives the same guarantee.
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [advisory_key(name)])
        return bool(cursor.fetchone()[0])


def autovacuum_off(db: BaseDatabaseWrapper = connection) -> bool:
    """PostgreSQL running with autovacuum switched off: nothing refreshes the planner's
    statistics as tables grow. False on other databases."""
    if db.vendor != "postgresql":
        return False
    with db.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        (setting,) = cursor.fetchone()
    return setting == "off"


def analyze(*models: type[Model]) -> None:
    """ANALYZE the models' tables (all tables without any) on PostgreSQL, as after a bulk
    load; a no-op elsewhere."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(model._meta.db_table for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}".strip())
