"""Pages of the orders app: the customer's tracking page (no log-in, an unguessable token).

The page shows one order and nothing else: no other order of the trip, the driver's first name
only, and the driver's position rounded to about 100 m and only while it is fresh.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orders import selectors
from orders.models import Order
from spark.lib import clock

S = Order.Status
CUSTOMER_STEPS = [
    (S.CREATED, "Order received"),
    (S.READY_FOR_PICKUP, "Packed at the store"),
    (S.DRIVER_ASSIGNED, "Driver on the way to the store"),
    (S.PICKED_UP, "Picked up"),
    (S.DRIVER_AT_DROPOFF, "Driver at your door"),
    (S.DELIVERED, "Delivered"),
]
# Where the order is, as one of the steps above (offered is still "packed" to the customer).
STEP_OF = {
    S.CREATED: 0,
    S.READY_FOR_PICKUP: 1,
    S.OFFERED: 1,
    S.DRIVER_ASSIGNED: 2,
    S.DRIVER_AT_STORE: 2,
    S.PICKED_UP: 3,
    S.DRIVER_AT_DROPOFF: 4,
    S.DELIVERED: 5,
}
WITH_DRIVER = frozenset({S.DRIVER_ASSIGNED, S.DRIVER_AT_STORE, S.PICKED_UP, S.DRIVER_AT_DROPOFF})
COURIER_FRESH = timedelta(minutes=10)
TOKEN_MAX_LENGTH = 64


@require_GET
def tracking_page(request: HttpRequest, token: str) -> HttpResponse:
    order = None
    if len(token) <= TOKEN_MAX_LENGTH:
        order = selectors.order_get_by_tracking_token(token=token)
    if order is None:
        raise Http404("No such order")
    now = clock.now()
    context = {
        "order": order,
        "store": order.store,
        "steps": _steps(order),
        "courier": _courier_visible(order),
        "map": _map(order, now),
        "now": now,
    }
    template = "tracking/_live.html" if request.htmx else "tracking/page.html"
    response = render(request, template, context)
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _steps(order: Order) -> list[dict[str, Any]]:
    reached = {}
    for event in order.events.all():
        reached.setdefault(event.to_status, event.at)
    current = STEP_OF.get(order.status, -1)
    return [
        {
            "label": label,
            "at": reached.get(status),
            "done": i <= current or status in reached,
            "current": i == current and not order.is_final,
        }
        for i, (status, label) in enumerate(CUSTOMER_STEPS)
    ]


def _courier_visible(order: Order) -> bool:
    return bool(order.courier_name) and order.status in WITH_DRIVER


@dataclass(frozen=True)
class Pin:
    kind: str
    label: str
    x: float
    y: float


def _map(order: Order, now: datetime, width: int = 360, height: int = 220) -> dict | None:
    """Store, drop-off and (while fresh) the driver's rounded position, projected onto a plain
    box: x = lng * cos(lat), y = -lat, scaled to fit with the aspect kept."""
    store = order.store
    points = [("store", store.name, store.lat, store.lng)]
    points.append(("home", "You", order.dropoff_lat, order.dropoff_lng))
    fresh = order.courier_located_at and now - order.courier_located_at <= COURIER_FRESH
    if order.courier_lat is not None and fresh and _courier_visible(order):
        lat, lng = round(order.courier_lat, 3), round(order.courier_lng, 3)
        points.append(("driver", order.courier_name or "Driver", lat, lng))
    lats, lngs = [p[2] for p in points], [p[3] for p in points]
    k = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lngs) - min(lngs)) * k, 0.01)
    span_y = max(max(lats) - min(lats), 0.01)
    pad = 28
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    mid_lat, mid_lng = (max(lats) + min(lats)) / 2, (max(lngs) + min(lngs)) / 2

    def pin(kind: str, label: str, lat: float, lng: float) -> Pin:
        x = width / 2 + (lng - mid_lng) * k * scale
        y = height / 2 - (lat - mid_lat) * scale
        return Pin(kind, label, round(x, 1), round(y, 1))

    pins = {p[0]: pin(*p) for p in points}
    return {"width": width, "height": height, "pins": pins}
