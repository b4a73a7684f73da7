"""The order lifecycle's statements written out in SQL (orders/services/sql.py) read and write
exactly what the ORM would, and the outbox keeps its promise to shops with and without an
endpoint."""

from datetime import timedelta

import pytest
from django.db import transaction

from orders import selectors, services
from orders.models import Order, OrderEvent, WebhookDelivery, WebhookEvent
from orders.representations import order_to_dict
from orders.services import sql
from spark.lib import sql as lib_sql
from spark.lib.actors import Actor
from spark.lib.errors import InvalidTransition
from tests.orders.helpers import make_order

HOUR = timedelta(hours=1)
pytestmark = pytest.mark.django_db


def _values(obj):
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def _odd_order(store, status=Order.Status.READY_FOR_PICKUP):
    """An order whose columns exercise every converter: JSON, UUID, datetimes, booleans."""
    return make_order(
        store,
        status,
        items=({"name": "Wine", "quantity": 2}, {"name": "Crème brûlée", "quantity": 1}),
        tip_cents=350,
        pin_required=True,
        contains_alcohol=True,
        signature_required=True,
        dropoff_instructions="Ring twice",
    )


def test_locked_orders_read_like_the_orm(store):
    order = _odd_order(store)
    with transaction.atomic():
        (locked,) = sql.lock_orders("o.id = %s", [order.id])
    assert _values(locked) == _values(Order.objects.get(id=order.id))
    assert locked.store_public_id == str(store.public_id)
    assert locked.has_webhooks is False
    assert locked._state.adding is False


def test_locked_orders_know_whether_the_shop_has_an_active_endpoint(store):
    order = make_order(store)
    endpoint = services.webhook_endpoint_create(merchant=store.merchant, url="https://x.test/h")
    assert sql.lock_orders("o.id = %s", [order.id])[0].has_webhooks is True
    endpoint.is_active = False
    endpoint.save(update_fields=["is_active"])
    assert sql.lock_orders("o.id = %s", [order.id])[0].has_webhooks is False


def test_events_written_in_sql_read_back_like_the_orm(store):
    order = make_order(store, Order.Status.READY_FOR_PICKUP)
    rows = sql.event_rows([order.id])[order.id]
    events = list(OrderEvent.objects.filter(order=order).order_by("at", "id"))
    assert [r["to_status"] for r in rows] == ["created", "ready_for_pickup"]
    for row, event in zip(rows, events, strict=True):
        assert row == {
            "kind": event.kind,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "at": event.at,
            "note": event.note,
            "lat": event.lat,
            "lng": event.lng,
        }


def test_a_move_sends_the_whole_order_to_a_shop_with_an_endpoint(store):
    services.webhook_endpoint_create(merchant=store.merchant, url="https://shop.test/hooks")
    order = _odd_order(store)
    event = WebhookEvent.objects.filter(order=order).latest("id")
    assert event.type == "order.ready_for_pickup"
    assert event.payload["data"]["order"] == order_to_dict(Order.objects.get(id=order.id))
    assert WebhookDelivery.objects.filter(event=event).count() == 1


def test_a_move_of_a_shop_without_an_endpoint_is_recorded_without_its_body(store):
    order = _odd_order(store)
    event = WebhookEvent.objects.filter(order=order).latest("id")
    assert event.type == "order.ready_for_pickup"
    assert event.payload["data"]["order"] == {
        "id": str(order.public_id),
        "external_order_id": order.external_order_id,
        "store_id": str(store.public_id),
        "status": "ready_for_pickup",
    }
    assert not WebhookDelivery.objects.exists()


def test_the_created_event_always_carries_the_order(store):
    order = make_order(store)
    event = WebhookEvent.objects.get(order=order, type="order.created")
    assert event.payload["data"]["order"]["events"][0]["status"] == "created"


def test_update_writes_what_queryset_update_would(store):
    order = _odd_order(store)
    lib_sql.update(Order, [order.id], {"courier_name": "Ari", "pickup_eta": order.pickup_ready_at})
    order.refresh_from_db()
    assert (order.courier_name, order.pickup_eta) == ("Ari", order.pickup_ready_at)


def test_dispatch_orders_read_like_the_orm(store):
    order = _odd_order(store)
    soon, later = (_odd_order(store, Order.Status.CREATED) for _ in range(2))
    Order.objects.filter(id=later.id).update(pickup_ready_at=soon.pickup_ready_at + HOUR)
    (read,), upcoming = selectors.order_list_for_round(
        market_id=store.market_id, until=soon.pickup_ready_at + HOUR / 2
    )
    assert [o.id for o in upcoming] == [soon.id]
    assert upcoming[0].status == Order.Status.CREATED
    orm = Order.objects.select_related("store").get(id=order.id)
    assert read == selectors.DispatchOrder(
        id=orm.id,
        public_id=orm.public_id,
        store_id=orm.store_id,
        store_lat=orm.store.lat,
        store_lng=orm.store.lng,
        store_name=orm.store.name,
        dropoff_address=orm.dropoff_address,
        dropoff_lat=orm.dropoff_lat,
        dropoff_lng=orm.dropoff_lng,
        items=orm.items,
        tip_cents=orm.tip_cents,
        contains_alcohol=orm.contains_alcohol,
        pickup_ready_at=orm.pickup_ready_at,
        dropoff_window_start=orm.dropoff_window_start,
        dropoff_window_end=orm.dropoff_window_end,
        status=Order.Status.READY_FOR_PICKUP,
    )
    assert selectors.order_list_for_dispatch(ids=[order.id]) == [read]


def test_light_order_reads_match_the_orm(store):
    order = _odd_order(store)
    assert selectors.order_statuses(ids=[order.id]) == {order.id: "ready_for_pickup"}
    assert selectors.market_get(market_id=store.market_id) == store.market
    assert _values(selectors.market_get(market_id=store.market_id)) == _values(store.market)


def test_a_failed_move_without_a_savepoint_fails_the_callers_transaction(store):
    order = make_order(store)

    def ready_then_delivered():
        with transaction.atomic():
            services.order_transition(
                order_id=order.id, to="ready_for_pickup", actor=Actor.system("t"), savepoint=False
            )
            services.order_transition(
                order_id=order.id, to="delivered", actor=Actor.system("t"), savepoint=False
            )

    with pytest.raises(InvalidTransition):
        ready_then_delivered()
    order.refresh_from_db()
    assert order.status == Order.Status.CREATED  # the first move went with the failed one
