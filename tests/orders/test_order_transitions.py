import itertools

import pytest

from orders import services
from orders.models import Order, OrderEvent, WebhookEvent
from orders.services.orders import DISPATCH_CHURN
from spark.lib.actors import Actor
from spark.lib.errors import InvalidTransition
from spark.lib.geo import Point
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db

ALL_PAIRS = list(itertools.product(Order.Status.values, Order.Status.values))


def test_every_state_is_reachable_from_created():
    reachable = {Order.Status.CREATED}
    frontier = [Order.Status.CREATED]
    while frontier:
        s = frontier.pop()
        for t in Order.TRANSITIONS[s]:
            if t not in reachable:
                reachable.add(t)
                frontier.append(t)
    assert reachable == set(Order.Status.values)


def test_final_states_have_no_exits():
    for status in Order.FINAL:
        assert Order.TRANSITIONS[status] == frozenset()


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_order_transition_follows_the_table(store, from_status, to_status):
    order = make_order(store, from_status)
    events_before = OrderEvent.objects.filter(order=order).count()
    hooks_before = WebhookEvent.objects.filter(order=order).count()
    allowed = to_status in Order.TRANSITIONS[from_status]
    if allowed:
        order = services.order_transition(
            order_id=order.id,
            to=to_status,
            actor=Actor.system("test"),
            note="why",
            location=Point(36.1, -86.7),
        )
        assert order.status == to_status
        event = OrderEvent.objects.filter(order=order).latest("id")
        assert (event.from_status, event.to_status) == (from_status, to_status)
        assert (event.lat, event.lng) == (36.1, -86.7)
        assert event.actor_label == "system:test"
        churn = (from_status, to_status) in DISPATCH_CHURN
        new = WebhookEvent.objects.filter(order=order).count() - hooks_before
        assert new == (0 if churn else 1)  # offered <-> ready is dispatch's churn: no webhook
    else:
        with pytest.raises(InvalidTransition) as exc:
            services.order_transition(order_id=order.id, to=to_status, actor=Actor.system("t"))
        assert exc.value.current_status == from_status
        order.refresh_from_db()
        assert order.status == from_status
        assert OrderEvent.objects.filter(order=order).count() == events_before


def test_order_transition_refuses_unexpected_source(store):
    order = make_order(store, Order.Status.READY_FOR_PICKUP)
    with pytest.raises(InvalidTransition):
        services.order_transition(
            order_id=order.id,
            to=Order.Status.CANCELLED,
            actor=Actor.system("t"),
            expected_from=frozenset({Order.Status.CREATED}),
        )


def test_cancel_records_the_reason(store):
    order = make_order(store, Order.Status.DRIVER_ASSIGNED)
    order = services.order_cancel(order_id=order.id, actor=Actor.system("t"), reason="Out of stock")
    assert order.status == Order.Status.CANCELLED
    assert order.cancel_reason == "Out of stock"
    assert order.events.latest("id").note == "Out of stock"
