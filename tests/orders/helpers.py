"""Helpers to build orders through the services, as the shop would."""

from typing import Any

from orders import services
from orders.models import Order, Store
from spark.lib.actors import Actor

DROPOFF = {
    "dropoff_address": "600 Main St, Nashville",
    "dropoff_lat": 36.178,
    "dropoff_lng": -86.75,
}


def order_payload(store: Store, **overrides: Any) -> dict[str, Any]:
    payload = {
        "store_id": str(store.public_id),
        "external_order_id": "EXT-1",
        "customer_name": "Ann Customer",
        "customer_phone": "+16155550100",
        **DROPOFF,
        "dropoff_instructions": "Leave at the side door",
        "items": [{"name": "Milk", "quantity": 2}, {"name": "Bread", "quantity": 1}],
        "order_value_cents": 4599,
        "tip_cents": 300,
    }
    payload.update(overrides)
    return payload


def make_order(store: Store, status: str = Order.Status.CREATED, **overrides: Any) -> Order:
    """An order created through the service, then moved along legal edges to `status`."""
    fields = {
        "store_id": store.public_id,
        "external_order_id": f"EXT-{Order.objects.count() + 1}",
        "customer_name": "Ann Customer",
        "customer_phone": "+16155550100",
        "order_value_cents": 4599,
        **DROPOFF,
        **overrides,
    }
    data = services.OrderInput(**fields)
    order = services.order_create(
        merchant=store.merchant, data=data, actor=Actor.system("test")
    ).order
    for step in path_to(status):
        order = services.order_transition(order_id=order.id, to=step, actor=Actor.system("test"))
    return order


def path_to(status: str) -> list[str]:
    """The shortest legal path from created to `status` (breadth-first over TRANSITIONS)."""
    start = Order.Status.CREATED
    paths = {start: []}
    frontier = [start]
    while frontier:
        nxt = []
        for s in frontier:
            for t in sorted(Order.TRANSITIONS[s]):
                if t not in paths:
                    paths[t] = [*paths[s], t]
                    nxt.append(t)
        frontier = nxt
    return paths[status]
