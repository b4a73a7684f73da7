"""What several chaos tests share: a row lock held from outside Django (to stop a worker at an
exact point), what the workers logged about a task, and the ledger's invariants."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
from django.db import connection

from tests.chaos.procs import APP_NAME, Processes


@contextmanager
def row_lock(sql: str, params: list | None = None) -> Iterator[None]:
    """Hold `SELECT ... FOR UPDATE` on its own connection until the block ends. A worker that
    needs the row waits there: a known point to kill it at."""
    db = connection.settings_dict
    conn = psycopg2.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        application_name="spark-chaos-test-lock",
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params or [])
            assert cursor.fetchall(), "nothing to lock"
        yield
    finally:
        conn.rollback()
        conn.close()


def chaos_sessions_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s AND wait_event_type = 'Lock'",
            [APP_NAME],
        )
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class TaskLog:
    received: int
    succeeded: int
    worker_lost: int


def task_log(procs: Processes, task_id: str) -> TaskLog:
    """What every worker of this test logged about one task id."""
    text = "\n".join(p.log_text() for p in procs.procs if p.name == "worker")
    lines = [line for line in text.splitlines() if task_id in line]
    return TaskLog(
        received=sum(" received" in line for line in lines),
        succeeded=sum(" succeeded in " in line for line in lines),
        worker_lost=sum("WorkerLostError" in line or "signal 9" in line for line in lines),
    )


def ledger_invariants() -> tuple[int, int]:
    """(sum of every entry, journal transactions whose entries do not sum to zero)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(amount_cents), 0) FROM payouts_journalentry")
        total = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT transaction_id FROM payouts_journalentry "
            "GROUP BY transaction_id, currency HAVING SUM(amount_cents) <> 0) t"
        )
        unbalanced = cursor.fetchone()[0]
    return total, unbalanced
