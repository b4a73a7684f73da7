"""Django's PostgreSQL backend, with each transaction's BEGIN sent with its first statement (P11).

psycopg2 outside autocommit opens a transaction by sending BEGIN on a round trip of its own
before the first statement: one round trip in six of a simulated city day (about ten
transactions per order, each BEGIN, statements, COMMIT). Here the driver stays in autocommit
and Django's transactions are driven with SQL: when Django turns autocommit off (an atomic block
begins), the next statement goes out as `BEGIN; <statement>` in one message; commit and
rollback send COMMIT and ROLLBACK when a transaction is open. Statements that cannot carry the
prefix (named cursors, executemany, COPY) send BEGIN first, as psycopg2 would.

Django's view of autocommit, atomic blocks, savepoints and on-commit hooks is unchanged; an
isolation level set in OPTIONS goes into the BEGIN.
"""

from typing import Any

from django.db.backends.postgresql import base
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from psycopg2.extensions import connection as _PgConnection
from psycopg2.extensions import cursor as _PgCursor


class _Connection(_PgConnection):
    # The BEGIN of the transaction Django has asked for, until a statement opens it.
    begin: str | None = None


def _pending(cursor: _PgCursor) -> str | None:
    conn = cursor.connection
    if conn.begin is None or conn.info.transaction_status != TRANSACTION_STATUS_IDLE:
        return None
    return conn.begin


class _Cursor(_PgCursor):
    """Opens the connection's pending transaction with its first statement."""

    def execute(self, query: Any, vars: Any = None) -> None:
        begin = _pending(self)
        if begin is not None:
            if self.name is None and isinstance(query, str):
                return super().execute(f"{begin}; {query}", vars)
            self._begin_alone(begin)
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
        begin = _pending(self)
        if begin is not None:
            self._begin_alone(begin)

    def _begin_alone(self, begin: str) -> None:
        with self.connection.cursor(cursor_factory=_PgCursor) as cursor:
            cursor.execute(begin)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        params["connection_factory"] = _Connection
        params["cursor_factory"] = _Cursor
        return params

    def get_new_connection(self, conn_params: dict) -> Any:
        connection = super().get_new_connection(conn_params)
        connection.autocommit = True  # for good: transactions are opened with SQL
        connection.begin = None
        return connection

    def _begin_sql(self) -> str:
        level = self.isolation_level
        if level is None or level.name == "READ_COMMITTED":
            return "BEGIN"
        return "BEGIN ISOLATION LEVEL " + level.name.replace("_", " ")

    def _set_autocommit(self, autocommit: bool) -> None:
        self.connection.begin = None if autocommit else self._begin_sql()

    def _end(self, sql: str) -> None:
        if self.connection is None:
            return
        if self.connection.info.transaction_status == TRANSACTION_STATUS_IDLE:
            return  # nothing was opened (no statement ran), or it has ended already
        with self.wrap_database_errors, self.connection.cursor(cursor_factory=_PgCursor) as c:
            c.execute(sql)

    def _commit(self) -> None:
        self._end("COMMIT")

    def _rollback(self) -> None:
        self._end("ROLLBACK")
