"""The audit context's set_config goes in front of the first write of a transaction, not every
statement, and still reaches every history row: after a savepoint rollback, a change of actor,
an executemany, and a statement with a literal % sign."""

import pytest
from django.db import IntegrityError, connection, transaction

from orders.models import Order
from spark.lib.actors import Actor
from spark.lib.audit import audit_context
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db


class SentSql:
    """An execute wrapper inside the audit one: the statements as PostgreSQL gets them."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql.decode() if isinstance(sql, bytes) else sql)
        return execute(sql, params, many, context)

    @property
    def prefixed(self) -> int:
        return sum("set_config('pghistory.context_metadata'" in s for s in self.statements)


def latest_actor(order: Order) -> str | None:
    context = order.history.latest("pgh_id").pgh_context
    return context and context["actor"]


def test_one_set_config_for_several_writes_in_a_transaction(store):
    order = make_order(store)
    sent = SentSql()
    with (
        audit_context(Actor.system("batch")),
        connection.execute_wrapper(sent),
        transaction.atomic(),
    ):
        Order.objects.filter(id=order.id).update(dropoff_instructions="one")
        Order.objects.filter(id=order.id).update(dropoff_instructions="two")
        with transaction.atomic():  # a savepoint, released
            Order.objects.filter(id=order.id).update(dropoff_instructions="three")
        Order.objects.filter(id=order.id).update(dropoff_instructions="four")
    assert sent.prefixed == 1
    rows = list(order.history.filter(pgh_label="update").order_by("pgh_id"))
    assert [r.dropoff_instructions for r in rows] == ["one", "two", "three", "four"]
    assert {r.pgh_context["actor"] for r in rows} == {"system:batch"}
    assert len({r.pgh_context_id for r in rows}) == 1


def write_then_fail(order: Order, other: Order) -> None:
    with transaction.atomic():
        # The first write in the savepoint sets the context; the failure rolls it back.
        Order.objects.filter(id=order.id).update(dropoff_instructions="lost")
        Order.objects.filter(id=other.id).update(external_order_id=order.external_order_id)


def test_the_context_is_set_again_after_a_savepoint_rolls_back(store):
    order, other = make_order(store), make_order(store)
    with audit_context(Actor.system("retry")), transaction.atomic():
        with pytest.raises(IntegrityError):
            write_then_fail(order, other)
        Order.objects.filter(id=order.id).update(dropoff_instructions="kept")
    latest = order.history.latest("pgh_id")
    assert latest.dropoff_instructions == "kept"
    assert latest.pgh_context["actor"] == "system:retry"


def test_each_context_names_its_own_actor_inside_one_transaction(store):
    order = make_order(store)
    with transaction.atomic():
        with audit_context(Actor.system("first")):
            Order.objects.filter(id=order.id).update(dropoff_instructions="a")
        assert latest_actor(order) == "system:first"
        with audit_context(Actor.system("second")):
            Order.objects.filter(id=order.id).update(dropoff_instructions="b")
        assert latest_actor(order) == "system:second"


def test_every_statement_in_autocommit_carries_the_context(store):
    order = make_order(store)
    sent = SentSql()
    with audit_context(Actor.system("autocommit")), connection.execute_wrapper(sent):
        Order.objects.filter(id=order.id).update(dropoff_instructions="x")
        Order.objects.filter(id=order.id).update(dropoff_instructions="y")
    # Inside the test's transaction both writes share one; outside it each is its own, so the
    # count is 1 here and 2 in production, and every row names the actor either way.
    assert sent.prefixed >= 1
    assert latest_actor(order) == "system:autocommit"


def test_reads_savepoints_and_requests_without_writes_send_no_context(store):
    sent = SentSql()
    with (
        audit_context(Actor.system("reader")),
        connection.execute_wrapper(sent),
        transaction.atomic(),
    ):
        list(Order.objects.all())
    assert sent.statements
    assert sent.prefixed == 0


def test_executemany_gets_the_context(store):
    first, second = make_order(store), make_order(store)
    with audit_context(Actor.system("many")), connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE orders_order SET dropoff_instructions = %s WHERE id = %s",
            [("many 1", first.id), ("many 2", second.id)],
        )
    for order, text in ((first, "many 1"), (second, "many 2")):
        assert order.history.latest("pgh_id").dropoff_instructions == text
        assert latest_actor(order) == "system:many"


def test_a_statement_without_parameters_keeps_its_literal_percent_signs(store):
    order = make_order(store)
    # Without parameters psycopg leaves % signs alone; with the context's, they must be escaped.
    with audit_context(Actor.system("raw")), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_order SET dropoff_instructions = '50%off' "
            "WHERE dropoff_instructions NOT LIKE '%off'"
        )
    assert order.history.latest("pgh_id").dropoff_instructions == "50%off"
    assert latest_actor(order) == "system:raw"
