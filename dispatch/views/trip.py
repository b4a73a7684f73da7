"""The trip screen: to the store, pickup codes, each drop-off with its proof of delivery (or why
it could not be delivered, and the return to the store), and the pay.

The page is built from the driver API's own representation of the trip (TripOutput), and every
step calls the same service as the API; a domain error is shown on the page with its status.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from dispatch import api, selectors, services
from dispatch.forms import DeliverForm, LocationForm, PickupForm, UndeliverableForm
from dispatch.models import Trip, TripStop
from dispatch.views import present
from dispatch.views.common import actor_for, driver_page, last_position, location_from, render_page
from spark.lib.errors import ApplicationError

STATUS_LABELS = {
    Trip.Status.ASSIGNED: "Drive to the store",
    Trip.Status.AT_STORE: "At the store",
    Trip.Status.IN_PROGRESS: "Delivering",
    Trip.Status.COMPLETED: "Completed",
    Trip.Status.CANCELLED: "Cancelled",
}
STATUS_BADGES = {Trip.Status.COMPLETED: "ok", Trip.Status.CANCELLED: "bad"}
STOP_LABELS = {
    TripStop.Status.PENDING: "To deliver",
    TripStop.Status.DELIVERED: "Delivered",
    TripStop.Status.UNDELIVERABLE: "Return to store",
    TripStop.Status.RETURNED: "Returned",
}
STOP_BADGES = {"delivered": "ok", "undeliverable": "warn", "returned": ""}
NEEDS = (
    ("photo", "Photo"),
    ("signature", "Signature"),
    ("pin", "Customer PIN"),
    ("id_check", "ID check, 21+"),
    ("contactless", "Contactless"),
)


def _forms_for(stop: dict[str, Any], forms: dict[str, Form]) -> dict[str, Form]:
    key = str(stop["order_id"])
    return {
        "deliver": forms.get(f"deliver-{key}")
        or DeliverForm(requirements=stop["requirements"], auto_id=f"deliver-{key}-%s"),
        "undeliverable": forms.get(f"undeliverable-{key}")
        or UndeliverableForm(auto_id=f"undeliverable-{key}-%s"),
    }


def _stop(stop: dict[str, Any], trip_status: str, forms: dict[str, Form]) -> dict[str, Any]:
    delivering = trip_status == Trip.Status.IN_PROGRESS and stop["status"] == "pending"
    return {
        **stop,
        "key": str(stop["order_id"]),
        "eta": present.as_datetime(stop["eta_at"]),
        "label": STOP_LABELS.get(stop["status"], stop["status"]),
        "badge": STOP_BADGES.get(stop["status"], ""),
        "needs": [label for name, label in NEEDS if stop["requirements"].get(name)],
        "can_arrive": delivering and stop["order_status"] == "picked_up",
        "arrived": delivering and stop["order_status"] == "driver_at_dropoff",
        "forms": _forms_for(stop, forms) if delivering else {},
        "can_return": stop["status"] == TripStop.Status.UNDELIVERABLE,
    }


def _steps(status: str, store: dict[str, Any], stops: list[dict[str, Any]]) -> list[dict]:
    order = [Trip.Status.ASSIGNED, Trip.Status.AT_STORE, Trip.Status.IN_PROGRESS, "completed"]
    at = order.index(status) if status in order else -1
    steps = [
        {"title": f"Drive to {store['name']}", "done": at > 0, "current": at == 0},
        {"title": "Pick up with the codes", "done": at > 1, "current": at == 1},
    ]
    next_key = next((s["order_id"] for s in stops if s["status"] == "pending"), None)
    for s in stops:
        final = s["status"] in ("delivered", "returned")
        title = (
            f"Return {s['customer_first_name']}'s order to the store"
            if s["status"] in ("undeliverable", "returned")
            else f"Deliver to {s['customer_first_name']}, {s['address']}"
        )
        current = at == 2 and (s["order_id"] == next_key or s["status"] == "undeliverable")
        steps.append({"title": title, "done": final, "current": current})
    steps.append({"title": "Trip complete", "done": at == 3, "current": False})
    return steps


def _map(trip_data: dict[str, Any], driver_id: int) -> dict[str, Any]:
    store = trip_data["store"]
    markers = [present.Marker("store", store["lat"], store["lng"], label="S", title=store["name"])]
    markers += [
        present.Marker(
            "stop",
            s["lat"],
            s["lng"],
            label=str(s["sequence"]),
            state=s["status"],
            title=s["address"],
        )
        for s in trip_data["stops"]
    ]
    position = last_position(driver_id)
    if position is not None:
        markers.append(present.Marker("driver", position.lat, position.lng, title="You"))
    svg = present.SvgMap(markers, height=250)
    route = [(store["lat"], store["lng"]), *((s["lat"], s["lng"]) for s in trip_data["stops"])]
    approach = ""
    if position is not None and trip_data["status"] == Trip.Status.ASSIGNED:
        approach = svg.polyline([(position.lat, position.lng), (store["lat"], store["lng"])])
    return {"svg": svg, "route": svg.polyline(route), "approach": approach}


def trip_context(
    driver: Any, trip: Trip, forms: dict[str, Form] | None = None, error: str = ""
) -> dict[str, Any]:
    forms = forms or {}
    data = api.TripOutput(trip).data
    status = data["status"]
    stops = [_stop(s, status, forms) for s in data["stops"]]
    pending = [s for s in data["stops"] if s["status"] == "pending"]
    offer = data["offer"]
    availability = selectors.availability_get(driver_id=driver.id)
    return {
        "online": bool(availability and availability.is_online),
        "position": last_position(driver.id),
        "trip": trip,
        "data": data,
        "status_label": STATUS_LABELS.get(status, status),
        "status_badge": STATUS_BADGES.get(status, "warn"),
        "store": data["store"],
        "stops": stops,
        "next_stop": next((s for s in stops if s["status"] == "pending"), None),
        "returns": [s for s in stops if s["can_return"]],
        "pickup_form": forms.get("pickup") or PickupForm(stops=pending),
        "store_form": LocationForm(),
        "steps": _steps(status, data["store"], data["stops"]),
        "offer": offer,
        "lines": present.pay_lines(offer) if offer else [],
        "rates": present.rates(offer) if offer else {},
        "map": _map(data, driver.id),
        "error": error,
    }


def _trip(driver: Any, public_id: Any) -> Trip:
    return selectors.trip_get_for_driver(driver_id=driver.id, public_id=public_id)


def _page(
    request: HttpRequest,
    driver: Any,
    public_id: Any,
    *,
    forms: dict[str, Form] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    trip = _trip(driver, public_id)  # read again: the step may have moved it on
    context = trip_context(driver, trip, forms, error)
    return render_page(request, "dispatch/trip.html", driver, context, status=status)


def _run(
    request: HttpRequest,
    driver: Any,
    trip: Trip,
    step: Callable[[], Any],
    *,
    done: str,
    forms: dict[str, Form] | None = None,
) -> HttpResponse:
    """Call the service; on a domain error show the trip again with the message."""
    try:
        step()
    except ApplicationError as exc:
        return _page(
            request, driver, trip.public_id, forms=forms, error=exc.message, status=exc.status_code
        )
    trip = _trip(driver, trip.public_id)
    if trip.status == Trip.Status.COMPLETED:
        done = "Trip complete. Thank you!"
    messages.success(request, done)
    return redirect("work:trip", public_id=trip.public_id)


def _invalid(
    request: HttpRequest, driver: Any, trip: Trip, forms: dict[str, Form], message: str
) -> HttpResponse:
    return _page(request, driver, trip.public_id, forms=forms, error=message, status=400)


@require_GET
@driver_page
def trip_detail(request: HttpRequest, driver: Any, public_id: Any) -> HttpResponse:
    return render_page(
        request, "dispatch/trip.html", driver, trip_context(driver, _trip(driver, public_id))
    )


@require_POST
@driver_page
def arrive_at_store(request: HttpRequest, driver: Any, public_id: Any) -> HttpResponse:
    trip = _trip(driver, public_id)
    form = LocationForm(request.POST)
    if not form.is_valid():
        return _invalid(request, driver, trip, {}, "Your location could not be read; try again.")
    return _run(
        request,
        driver,
        trip,
        lambda: services.trip_arrive_at_store(
            trip_id=trip.id,
            driver_id=driver.id,
            actor=actor_for(request),
            location=location_from(form.cleaned_data, driver.id),
        ),
        done="Checked in at the store. Ask the associate for the pickup codes.",
    )


@require_POST
@driver_page
def pickup(request: HttpRequest, driver: Any, public_id: Any) -> HttpResponse:
    trip = _trip(driver, public_id)
    pending = [s for s in api.TripOutput(trip).data["stops"] if s["status"] == "pending"]
    form = PickupForm(request.POST, stops=pending)
    if not form.is_valid():
        return _invalid(request, driver, trip, {"pickup": form}, "Enter every pickup code.")
    ids = selectors.trip_stop_order_ids(trip_id=trip.id)
    codes = {ids[k]: v for k, v in form.codes().items() if k in ids}
    try:
        services.trip_confirm_pickup(
            trip_id=trip.id,
            driver_id=driver.id,
            actor=actor_for(request),
            codes=codes,
            location=location_from(form.cleaned_data, driver.id),
        )
    except ApplicationError as exc:
        by_id = {order_id: public for public, order_id in ids.items()}
        for order_id in exc.extra.get("order_ids", []):
            form.add_error(f"code_{by_id[order_id]}", "This code does not match.")
        return _page(
            request,
            driver,
            trip.public_id,
            forms={"pickup": form},
            error=exc.message,
            status=exc.status_code,
        )
    messages.success(request, "Picked up. Drive to the first drop-off.")
    return redirect("work:trip", public_id=trip.public_id)


def _stop_data(trip: Trip, order_public_id: Any) -> tuple[int, dict[str, Any]]:
    order_id = selectors.trip_stop_order_id(trip_id=trip.id, order_public_id=order_public_id)
    stops = api.TripOutput(trip).data["stops"]
    return order_id, next(s for s in stops if str(s["order_id"]) == str(order_public_id))


@require_POST
@driver_page
def stop_arrive(request: HttpRequest, driver: Any, public_id: Any, order_id: Any) -> HttpResponse:
    trip = _trip(driver, public_id)
    stop_order_id, _ = _stop_data(trip, order_id)
    form = LocationForm(request.POST)
    if not form.is_valid():
        return _invalid(request, driver, trip, {}, "Your location could not be read; try again.")
    return _run(
        request,
        driver,
        trip,
        lambda: services.trip_stop_arrive(
            trip_id=trip.id,
            driver_id=driver.id,
            order_id=stop_order_id,
            actor=actor_for(request),
            location=location_from(form.cleaned_data, driver.id),
        ),
        done="Arrived. Hand over the order and record the proof of delivery.",
    )


@require_POST
@driver_page
def stop_deliver(request: HttpRequest, driver: Any, public_id: Any, order_id: Any) -> HttpResponse:
    trip = _trip(driver, public_id)
    stop_order_id, stop = _stop_data(trip, order_id)
    key = f"deliver-{stop['order_id']}"
    form = DeliverForm(
        request.POST,
        request.FILES,
        requirements=stop["requirements"],
        auto_id=f"{key}-%s",
    )
    if not form.is_valid():
        return _invalid(request, driver, trip, {key: form}, "Check the proof of delivery below.")
    data = form.cleaned_data
    return _run(
        request,
        driver,
        trip,
        lambda: services.trip_stop_deliver(
            trip_id=trip.id,
            driver_id=driver.id,
            order_id=stop_order_id,
            actor=actor_for(request),
            location=location_from(data, driver.id),
            proof=services.Proof(
                photo=data.get("photo"),
                signature_name=data.get("signature_name", ""),
                pin=data.get("pin", ""),
                id_checked=data.get("id_checked", False),
            ),
        ),
        done=f"Delivered to {stop['customer_first_name'] or 'the customer'}.",
        forms={key: form},
    )


@require_POST
@driver_page
def stop_undeliverable(
    request: HttpRequest, driver: Any, public_id: Any, order_id: Any
) -> HttpResponse:
    trip = _trip(driver, public_id)
    stop_order_id, stop = _stop_data(trip, order_id)
    key = f"undeliverable-{stop['order_id']}"
    form = UndeliverableForm(request.POST, auto_id=f"{key}-%s")
    if not form.is_valid():
        return _invalid(request, driver, trip, {key: form}, "Say why it cannot be delivered.")
    return _run(
        request,
        driver,
        trip,
        lambda: services.trip_stop_undeliverable(
            trip_id=trip.id,
            driver_id=driver.id,
            order_id=stop_order_id,
            actor=actor_for(request),
            reason=form.reason_text(),
            location=location_from(form.cleaned_data, driver.id),
        ),
        done="Noted. Bring the order back to the store and confirm the return there.",
        forms={key: form},
    )


@require_POST
@driver_page
def stop_return(request: HttpRequest, driver: Any, public_id: Any, order_id: Any) -> HttpResponse:
    trip = _trip(driver, public_id)
    stop_order_id, _ = _stop_data(trip, order_id)
    form = LocationForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {}
    position = data.get("lat") is not None and location_from(data, driver.id)
    return _run(
        request,
        driver,
        trip,
        lambda: services.trip_stop_return(
            trip_id=trip.id,
            driver_id=driver.id,
            order_id=stop_order_id,
            actor=actor_for(request),
            location=position or last_position(driver.id),
        ),
        done="Returned to the store.",
    )
