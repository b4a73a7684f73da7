"""spark.lib.postgresql: a transaction's BEGIN goes with its first statement, held writes go with
the next statement or the COMMIT, and transactions still commit, roll back and hold whatever the
statement is (COPY, executemany, named cursors)."""

import io

import psycopg2
import pytest
from django.db import IntegrityError, ProgrammingError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from orders.models import Market
from spark.lib import sql as lib_sql
from spark.lib.postgresql.base import DatabaseWrapper

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend"),
]
PROBE = "spark_backend_probe"


@pytest.fixture(autouse=True)
def probe():
    """A table of names (unique, checked at commit) that another session can read."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {PROBE} (name text UNIQUE DEFERRABLE INITIALLY DEFERRED)"  # noqa: S608
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {PROBE}")


def _names() -> set[str]:
    """The names as another session sees them (only what is committed)."""
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None
    )
    try:
        with other.cursor() as cursor:
            cursor.execute(f"SELECT name FROM {PROBE}")  # noqa: S608
            return {row[0] for row in cursor.fetchall()}
    finally:
        other.close()


def _insert(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {PROBE} (name) VALUES (%s)", [name])  # noqa: S608


IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE


def test_the_backend_is_in_use():
    assert isinstance(connections["default"], DatabaseWrapper)


def test_begin_goes_with_the_first_statement_of_a_transaction():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        Market.objects.count()
        Market.objects.count()
    # (Django logs a "BEGIN" of its own when an atomic block starts: not a statement)
    sent = [q["sql"] for q in queries if "COUNT(*)" in q["sql"]]
    assert sent[0].startswith("BEGIN; SELECT COUNT(*)")
    assert sent[1].startswith("SELECT COUNT(*)")
    assert connection.connection.info.transaction_status == IDLE


def test_a_committed_transaction_is_seen_and_a_rolled_back_one_is_not():
    with transaction.atomic():
        _insert("kept")
    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        _insert("dropped")
        raise RuntimeError("roll back")
    assert _names() == {"kept"}


def test_statements_outside_a_transaction_autocommit_without_begin():
    with CaptureQueriesContext(connection) as queries:
        _insert("alone")
    assert queries[0]["sql"].startswith("INSERT")
    assert _names() == {"alone"}


def test_copy_and_executemany_inside_a_rolled_back_transaction_leave_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {PROBE} (name) FROM STDIN", io.StringIO("copied\n"))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {PROBE} (name) VALUES (%s)", [["a"], ["b"]])  # noqa: S608
        assert _names() == set()  # not committed yet
        raise RuntimeError("roll back")
    assert _names() == set()


def test_copy_as_a_transactions_first_statement_commits_with_it():
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {PROBE} (name) FROM STDIN", io.StringIO("copied\n"))
        assert _names() == set()
    assert _names() == {"copied"}


def test_a_named_cursor_reads_inside_a_transaction():
    Market.objects.bulk_create(
        [Market(name=f"M{i}", slug=f"m{i}", centre_lat=36.1, centre_lng=-86.7) for i in range(5)]
    )
    with transaction.atomic():
        names = [m.name for m in Market.objects.order_by("id").iterator(chunk_size=2)]
    assert names == [f"M{i}" for i in range(5)]


def _twice() -> None:
    with transaction.atomic():  # the unique check runs at COMMIT
        _insert("twice")
        _insert("twice")


def test_a_failure_at_commit_raises_and_the_connection_goes_on():
    with pytest.raises(IntegrityError):
        _twice()
    assert connection.connection.info.transaction_status == IDLE
    assert _names() == set()
    with transaction.atomic():
        _insert("once")
    assert _names() == {"once"}


def test_an_isolation_level_from_the_options_goes_into_the_begin():
    from django.db.backends.postgresql.psycopg_any import IsolationLevel

    wrapper = connections["default"]
    saved = wrapper.isolation_level
    try:
        wrapper.isolation_level = IsolationLevel.SERIALIZABLE
        assert wrapper._begin_sql() == "BEGIN ISOLATION LEVEL SERIALIZABLE"
        wrapper.isolation_level = IsolationLevel.READ_COMMITTED
        assert wrapper._begin_sql() == "BEGIN"
    finally:
        wrapper.isolation_level = saved


def _insert_later(name: str) -> None:
    lib_sql.run_later([(f"INSERT INTO {PROBE} (name) VALUES (%s)", [name])])  # noqa: S608


def test_held_writes_go_out_with_the_commit():
    with transaction.atomic():
        _insert_later("held")
        assert connection.connection.info.transaction_status == IDLE  # nothing sent, not even BEGIN
        assert _names() == set()
    assert _names() == {"held"}
    assert connection.connection.held == []


def test_a_statement_after_held_writes_carries_them_and_sees_them():
    with transaction.atomic(), connection.cursor() as cursor:
        _insert_later("first")
        _insert_later("second")
        cursor.execute(f"SELECT name FROM {PROBE} ORDER BY name")  # noqa: S608
        assert [row[0] for row in cursor.fetchall()] == ["first", "second"]
        sent = lib_sql.readable(cursor.cursor.query.decode())
        assert sent.startswith("BEGIN; INSERT INTO")
        assert sent.count("INSERT INTO") == 2
    assert _names() == {"first", "second"}


def test_held_writes_are_dropped_by_a_rollback():
    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        _insert("sent")
        _insert_later("held")
        raise RuntimeError("roll back")
    assert connection.connection.held == []
    assert _names() == set()
    with transaction.atomic():
        _insert("next")
    assert _names() == {"next"}


def test_a_held_write_rolled_back_to_its_savepoint_is_undone():
    with transaction.atomic():
        _insert("outer")
        with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
            _insert_later("inner")
            raise RuntimeError("roll back the savepoint")
    assert _names() == {"outer"}


def test_a_failing_held_write_fails_the_whole_transaction_at_commit():
    with pytest.raises(ProgrammingError), transaction.atomic():  # noqa: PT012
        _insert("before")
        lib_sql.run_later([(f"INSERT INTO {PROBE} (no_such_column) VALUES (1)", [])])  # noqa: S608
    assert connection.connection.info.transaction_status == IDLE
    assert _names() == set()
    with transaction.atomic():
        _insert_later("after")
    assert _names() == {"after"}


def test_run_later_outside_a_transaction_runs_at_once():
    _insert_later("now")
    assert _names() == {"now"}
    assert connection.connection.held == []


def test_a_failing_held_write_in_a_savepoint_rolled_back_leaves_the_outer_transaction_whole():
    with transaction.atomic():
        _insert("outer")
        with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
            lib_sql.run_later([(f"INSERT INTO {PROBE} (no_such_column) VALUES (1)", [])])  # noqa: S608
            raise RuntimeError("roll back the savepoint: the held write is dropped, not sent")
        _insert("after")
    assert _names() == {"outer", "after"}
