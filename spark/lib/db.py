"""Small database helpers shared by the apps."""

import hashlib
from typing import TypeVar

from django.db import connection
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
