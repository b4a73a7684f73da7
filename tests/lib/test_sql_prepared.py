"""spark.lib.sql prepares its statements once per PostgreSQL session and sends EXECUTE after:
the same rows back, a statement that cannot be prepared still runs, the transaction around a
failed PREPARE goes on, and the audit context still reaches the writes."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from spark.lib import sql as lib_sql
from spark.lib.actors import Actor
from spark.lib.audit import audit_context
from tests.orders.helpers import make_order

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared on PostgreSQL only"),
]
TABLE = Order._meta.db_table


def prepared_on_session() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_a_statement_is_prepared_once_then_executed_with_the_same_rows(store):
    order = make_order(store)
    sql = f"SELECT id, external_order_id FROM {TABLE} WHERE id = %s AND status = %s"  # noqa: S608
    with CaptureQueriesContext(connection) as queries:
        first = lib_sql.fetch(sql, [order.id, order.status])
        second = lib_sql.fetch(sql, [order.id, order.status])
    assert first == second == [(order.id, order.external_order_id)]
    name = queries[0]["sql"].split("(")[0]
    assert name.startswith("EXECUTE spark_")
    assert queries[1]["sql"].startswith(name + "(")
    assert lib_sql.readable(queries[1]["sql"]) == sql
    assert any("WHERE id = $1 AND status = $2" in s for s in prepared_on_session())


def test_a_statement_the_server_cannot_type_runs_as_it_is_and_the_transaction_goes_on(store):
    order = make_order(store)
    with transaction.atomic():
        assert lib_sql.fetch("SELECT %s IS NULL", [None]) == [(True,)]
        lib_sql.update(Order, [order.id], {"dropoff_instructions": "after"})
    order.refresh_from_db()
    assert order.dropoff_instructions == "after"
    with CaptureQueriesContext(connection) as queries:
        assert lib_sql.fetch("SELECT %s IS NULL", [1]) == [(False,)]
    assert queries[0]["sql"] == "SELECT 1 IS NULL"  # known not to prepare: not tried again


def test_a_literal_percent_sign_survives_the_prepare(store):
    make_order(store, customer_name="100% real")
    sql = f"SELECT customer_name FROM {TABLE} WHERE customer_name LIKE '%%real' AND id > %s"  # noqa: S608
    assert lib_sql.fetch(sql, [0]) == [("100% real",)]
    assert lib_sql.fetch(sql, [0]) == [("100% real",)]


@pytest.mark.django_db(transaction=True)
def test_a_new_session_prepares_again(store):
    order = make_order(store)
    sql = f"SELECT id FROM {TABLE} WHERE id = %s"  # noqa: S608
    assert lib_sql.fetch(sql, [order.id]) == [(order.id,)]
    connection.close()
    assert lib_sql.fetch(sql, [order.id]) == [(order.id,)]
    assert any(s.endswith("WHERE id = $1") for s in prepared_on_session())


def test_a_statement_prepared_in_a_rolled_back_transaction_stays_prepared(store):
    order = make_order(store)
    sql = f"SELECT id FROM {TABLE} WHERE id = %s AND id > %s"  # noqa: S608

    def fetch_then_fail() -> None:
        with transaction.atomic():
            lib_sql.fetch(sql, [order.id, 0])
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        fetch_then_fail()
    assert lib_sql.fetch(sql, [order.id, 0]) == [(order.id,)]


def test_the_setting_turns_it_off(store, settings):
    settings.SPARK_SQL_PREPARE = False
    order = make_order(store)
    sql = f"SELECT id FROM {TABLE} WHERE id = %s AND id < %s"  # noqa: S608
    with CaptureQueriesContext(connection) as queries:
        assert lib_sql.fetch(sql, [order.id, 10**9]) == [(order.id,)]
    assert queries[0]["sql"].startswith("SELECT id FROM")


@pytest.mark.django_db(transaction=True)
def test_a_write_in_a_transaction_that_a_prepare_opened_still_names_its_actor(store):
    """The PREPARE goes first on the driver's own cursor and opens the transaction: the audit
    context must still be set in it for the write."""
    order = make_order(store)
    with audit_context(Actor.system("prepared")):
        with transaction.atomic():
            lib_sql.update(Order, [order.id], {"dropoff_instructions": "one"})
        with transaction.atomic():  # a statement not prepared yet on this session
            lib_sql.update(Order, [order.id], {"dropoff_instructions": "two", "customer_name": "B"})
    rows = list(order.history.filter(pgh_label="update").order_by("pgh_id"))
    assert [r.dropoff_instructions for r in rows][-2:] == ["one", "two"]
    assert [r.pgh_context and r.pgh_context["actor"] for r in rows][-2:] == ["system:prepared"] * 2


def test_a_long_id_list_is_one_prepared_statement_whatever_its_length(store):
    orders = [make_order(store, external_order_id=f"any-{i}") for i in range(40)]
    ids = [o.id for o in orders]
    sent = []
    for n in (lib_sql.ANY_FROM, lib_sql.ANY_FROM + 7, 40):
        where, params = lib_sql.any_of("id", ids[:n])
        with CaptureQueriesContext(connection) as queries:
            rows = lib_sql.fetch(f"SELECT id FROM {TABLE} WHERE {where} ORDER BY id", params)  # noqa: S608
        assert [i for (i,) in rows] == ids[:n]
        sent.append(queries[-1]["sql"].split("(")[0])
    assert len(set(sent)) == 1
    assert sent[0].startswith("EXECUTE spark_")


def test_a_short_id_list_stays_an_in_list_and_an_empty_one_matches_nothing(store):
    order = make_order(store)
    assert lib_sql.any_of("id", [order.id, 5]) == ("id IN (%s, %s)", [order.id, 5])
    where, params = lib_sql.any_of("id", [])
    assert lib_sql.fetch(f"SELECT id FROM {TABLE} WHERE {where}", params) == []  # noqa: S608


def test_literals_are_the_codes_constants_and_nothing_else():
    assert lib_sql.literal(Order.Status.OFFERED) == "'offered'"
    assert lib_sql.literal(True) == "TRUE"
    assert lib_sql.literal(3) == "3"
    assert lib_sql.literals(["a", "b_c"]) == "'a', 'b_c'"
    for outside in ("it's", "a;b", "x OR 1=1", None, 1.5):
        with pytest.raises(ValueError, match="not a constant"):
            lib_sql.literal(outside)
