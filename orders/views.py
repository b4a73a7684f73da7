"""Pages of the orders app: the customer's tracking page (no log-in, an unguessable token)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orders import selectors
from orders.models import Order

CUSTOMER_STEPS = [
    (Order.Status.CREATED, "Order received"),
    (Order.Status.READY_FOR_PICKUP, "Packed at the store"),
    (Order.Status.DRIVER_ASSIGNED, "Driver on the way to the store"),
    (Order.Status.PICKED_UP, "Picked up"),
    (Order.Status.DRIVER_AT_DROPOFF, "Driver at your door"),
    (Order.Status.DELIVERED, "Delivered"),
]


@require_GET
def tracking_page(request: HttpRequest, token: str) -> HttpResponse:
    order = selectors.order_get_by_tracking_token(token=token)
    if order is None:
        raise Http404("No such order")
    reached = {e.to_status: e.at for e in order.events.all()}
    steps = [
        {"label": label, "at": reached.get(status), "done": status in reached}
        for status, label in CUSTOMER_STEPS
    ]
    response = render(
        request,
        "tracking/page.html",
        {"order": order, "steps": steps, "store": order.store},
    )
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response
