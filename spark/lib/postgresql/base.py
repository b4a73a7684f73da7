"""Django's PostgreSQL backend, with each transaction's BEGIN sent with its first statement (P11).

psycopg2 outside autocommit opens a transaction by sending BEGIN on a round trip of its own
before the first statement: one round trip in six of a simulated city day (about ten
transactions per order, each BEGIN, statements, COMMIT). Here the driver stays in autocommit
and Django's transactions are driven with SQL: when Django turns autocommit off (an atomic block
begins), the next statement goes out as `BEGIN; <statement>` in one message; commit and
rollback send COMMIT and ROLLBACK when a transaction is open. Statements that cannot carry the
prefix (named cursors, executemany, COPY) send BEGIN first, as psycopg2 would.

Writes whose outcome the caller does not read can be held (`holding()`, used by
spark.lib.sql.run_later): inside a transaction they are not sent at once but in front of the
transaction's next statement, or of its COMMIT: a step that ends with writes then costs one round
trip fewer. The order of statements is kept, so a read sees the held writes before it; an error
in one surfaces at the statement it went out with, in the same transaction, which then rolls back
as a whole. A rollback, or a rollback to a savepoint, drops what is still held (it would be
undone anyway: a SAVEPOINT, like any statement, sends the writes held before it).

Django's view of autocommit, atomic blocks, savepoints and on-commit hooks is unchanged; an
isolation level set in OPTIONS goes into the BEGIN.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.postgresql import base
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from psycopg2.extensions import connection as _PgConnection
from psycopg2.extensions import cursor as _PgCursor


class _Connection(_PgConnection):
    # The BEGIN of the transaction Django has asked for, until a statement opens it.
    begin: str | None = None
    # Statements of the open transaction not sent yet (their text, parameters in), and whether
    # the next ones are to be held too.
    held: list[bytes]
    hold: bool = False


# Django's savepoint rollback (DatabaseOperations.savepoint_rollback_sql).
_TO_SAVEPOINT = "ROLLBACK TO SAVEPOINT "


def _begin_pending(conn: _Connection) -> str | None:
    if conn.begin is None or conn.info.transaction_status != TRANSACTION_STATUS_IDLE:
        return None
    return conn.begin


def _front(conn: _Connection) -> bytes | None:
    """What must go out before the next statement when writes are held: the pending BEGIN and
    the held writes, taken (None when nothing is held)."""
    if not conn.held:
        return None
    begin = _begin_pending(conn)
    parts = [begin.encode()] if begin is not None else []
    parts += conn.held
    conn.held = []
    return b"; ".join(parts)


class _Cursor(_PgCursor):
    """Opens the connection's pending transaction with its first statement; holds writes, or
    sends the held ones in front of the statement (see the module's docstring)."""

    # The text of the statement this cursor last held (not sent): what Django logs for it.
    held_query: bytes | None = None

    def execute(self, query: Any, vars: Any = None) -> None:
        conn = self.connection
        plain = self.name is None and isinstance(query, str | bytes)
        if conn.hold and plain and conn.begin is not None:
            self.held_query = self.mogrify(query, vars)
            conn.held.append(self.held_query)
            return None
        self.held_query = None
        if conn.held:
            if isinstance(query, str) and query.startswith(_TO_SAVEPOINT):
                # Held after the savepoint began (its SAVEPOINT sent those before): undone
                # unsent.
                conn.held = []
            else:
                front = _front(conn)
                if plain:
                    return super().execute(front + b"; " + self.mogrify(query, vars))
                self._send_alone(front)
                return super().execute(query, vars)
        begin = _begin_pending(conn)
        if begin is not None:
            if plain and isinstance(query, str):
                return super().execute(f"{begin}; {query}", vars)
            self._send_alone(begin)
        return super().execute(query, vars)

    def executemany(self, query: Any, vars_list: Any) -> None:
        self._begin_if_pending()
        return super().executemany(query, vars_list)

    def copy_expert(self, *args: Any, **kwargs: Any) -> None:
        self._begin_if_pending()
        return super().copy_expert(*args, **kwargs)

    def copy_from(self, *args: Any, **kwargs: Any) -> None:
        self._begin_if_pending()
        return super().copy_from(*args, **kwargs)

    def copy_to(self, *args: Any, **kwargs: Any) -> None:
        self._begin_if_pending()
        return super().copy_to(*args, **kwargs)

    def callproc(self, *args: Any, **kwargs: Any) -> Any:
        self._begin_if_pending()
        return super().callproc(*args, **kwargs)

    def _begin_if_pending(self) -> None:
        front = _front(self.connection) or _begin_pending(self.connection)
        if front is not None:
            self._send_alone(front)

    def _send_alone(self, text: str | bytes) -> None:
        with self.connection.cursor(cursor_factory=_PgCursor) as cursor:
            cursor.execute(text)


class DatabaseOperations(base.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: Any, params: Any) -> str | None:
        held = getattr(cursor, "held_query", None)  # held, not sent: its own text
        return (
            held.decode() if held is not None else super().last_executed_query(cursor, sql, params)
        )


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        params["connection_factory"] = _Connection
        params["cursor_factory"] = _Cursor
        return params

    def get_new_connection(self, conn_params: dict) -> Any:
        connection = super().get_new_connection(conn_params)
        connection.autocommit = True  # for good: transactions are opened with SQL
        connection.begin = None
        connection.held = []
        return connection

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Statements executed inside are held (module docstring) when a transaction is open;
        in autocommit they run at once."""
        self.ensure_connection()
        conn = self.connection
        conn.hold = True
        try:
            yield
        finally:
            conn.hold = False

    def _begin_sql(self) -> str:
        level = self.isolation_level
        if level is None or level.name == "READ_COMMITTED":
            return "BEGIN"
        return "BEGIN ISOLATION LEVEL " + level.name.replace("_", " ")

    def _set_autocommit(self, autocommit: bool) -> None:
        self.connection.begin = None if autocommit else self._begin_sql()

    def _end(self, sql: str) -> None:
        conn = self.connection
        if conn is None:
            return
        front = _front(conn) if sql == "COMMIT" else None
        conn.held = []  # a rollback drops them
        if front is not None:
            text: str | bytes = front + b"; COMMIT"  # the held writes go with the COMMIT
        elif conn.info.transaction_status == TRANSACTION_STATUS_IDLE:
            return  # nothing was opened (no statement ran), or it has ended already
        else:
            text = sql
        with self.wrap_database_errors, conn.cursor(cursor_factory=_PgCursor) as c:
            c.execute(text)

    def _commit(self) -> None:
        self._end("COMMIT")

    def _rollback(self) -> None:
        self._end("ROLLBACK")
