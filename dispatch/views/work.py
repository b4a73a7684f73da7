"""The driver's work page: go online or offline, the offers that come in (with their pay and
why they came), accept or decline them, and past trips. Thin: every rule is in the services."""

import math
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dispatch import selectors, services
from dispatch.forms import DeclineForm, OnlineForm
from dispatch.views import present
from dispatch.views.common import (
    actor_for,
    dev_tools,
    driver_page,
    last_position,
    location_from,
    render_page,
)
from drivers import selectors as driver_selectors
from orders import selectors as order_selectors
from spark.lib import clock, throttle
from spark.lib.errors import ApplicationError


def offer_card(offer: Any, now: Any) -> dict[str, Any]:
    store = offer.trip.store
    left = present.seconds_left(offer.expires_at, now)
    markers = [present.Marker("store", store.lat, store.lng, label="S", title=store.name)]
    markers += [
        present.Marker("stop", s["lat"], s["lng"], label=str(s["sequence"]), title=s["address"])
        for s in offer.stops
    ]
    svg = present.SvgMap(markers, height=150, pad=22)
    svg.route = [(store.lat, store.lng), *((s["lat"], s["lng"]) for s in offer.stops)]
    return {
        "offer": offer,
        "store": store,
        "stops": [{**s, "eta": present.as_datetime(s.get("eta_at"))} for s in offer.stops],
        "lines": present.pay_lines(offer),
        "rates": present.rates(offer),
        "why": present.reason_sentences(offer.reason),
        "rank": (offer.reason or {}).get("rank"),
        "seconds_left": left,
        "countdown": present.countdown(left),
        "map": svg,
        "route": svg.polyline(svg.route),
        "decline_form": DeclineForm(auto_id=f"decline-{offer.public_id}-%s"),
    }


def _offers(driver_id: int) -> tuple[list[dict[str, Any]], str]:
    now = clock.now()
    offers = list(selectors.offer_list_open_with_store(driver_id=driver_id, now=now))
    return [offer_card(o, now) for o in offers], ",".join(sorted(str(o.public_id) for o in offers))


def _dev_map(driver: Any, position: Any) -> present.SvgMap:
    """Where a developer taps to "be" somewhere: the market's centre and its stores."""
    market = order_selectors.market_get(market_id=driver.home_market_id)
    markers = [present.Marker("centre", market.centre_lat, market.centre_lng, title=market.name)]
    markers += [
        present.Marker("store", s.lat, s.lng, label="S", title=s.name)
        for s in order_selectors.store_list_for_market(market_id=market.id)
    ]
    if position is not None:
        markers.append(present.Marker("driver", position.lat, position.lng, title="You"))
    return present.SvgMap(markers, height=260, min_span_km=12)


def _context(request: HttpRequest, driver: Any, form: OnlineForm | None = None) -> dict[str, Any]:
    availability = selectors.availability_get(driver_id=driver.id)
    online = bool(availability and availability.is_online)
    position = last_position(driver.id)
    offers, offer_ids = _offers(driver.id)
    initial = {"lat": position.lat, "lng": position.lng} if position else {}
    context = {
        "availability": availability,
        "online": online,
        "position": position,
        "can_go_online": driver_selectors.driver_can_go_online(driver_id=driver.id),
        "trip": selectors.trip_current_for_driver(driver_id=driver.id),
        "offers": offers,
        "offer_ids": offer_ids,
        "online_form": form or OnlineForm(initial=initial, dev=dev_tools()),
    }
    if dev_tools():
        context["dev_map"] = _dev_map(driver, position)
    return context


@require_GET
@driver_page
def home(request: HttpRequest, driver: Any) -> HttpResponse:
    return render_page(request, "dispatch/work.html", driver, _context(request, driver))


@require_GET
@driver_page
def offers(request: HttpRequest, driver: Any) -> HttpResponse:
    """The offer cards alone: the page's script swaps them in when the offer list changes."""
    cards, offer_ids = _offers(driver.id)
    return render(
        request, "dispatch/_offers.html", {"offers": cards, "offer_ids": offer_ids, "online": True}
    )


@require_POST
@driver_page
def go_online(request: HttpRequest, driver: Any) -> HttpResponse:
    form = OnlineForm(request.POST, dev=dev_tools())
    if form.is_valid():
        try:
            point = location_from(form.cleaned_data, driver.id)
            services.driver_go_online(driver_id=driver.id, lat=point.lat, lng=point.lng)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            context = _context(request, driver, form)
            return render_page(request, "dispatch/work.html", driver, context, exc.status_code)
        messages.success(request, "You are online. Offers near you appear on this page.")
        return redirect("work:home")
    context = _context(request, driver, form)
    return render_page(request, "dispatch/work.html", driver, context, status=400)


@require_POST
@driver_page
def go_offline(request: HttpRequest, driver: Any) -> HttpResponse:
    services.driver_go_offline(driver_id=driver.id)
    messages.success(request, "You are offline. No new offers until you go online again.")
    return redirect("work:home")


@require_POST
@driver_page
def offer_accept(request: HttpRequest, driver: Any, public_id: Any) -> HttpResponse:
    wait = throttle.scope_hit("offer_accept", f"d{driver.id}")  # the API's limit, shared (A6)
    if wait is not None:
        messages.error(request, f"Too many accepts: try again in {math.ceil(wait)} s.")
        response = render_page(
            request, "dispatch/work.html", driver, _context(request, driver), status=429
        )
        response["Retry-After"] = str(math.ceil(wait))
        return response
    selectors.offer_get_for_driver(driver_id=driver.id, public_id=public_id)  # 404 if not yours
    try:
        offer = services.offer_accept(
            offer_public_id=public_id, driver_id=driver.id, actor=actor_for(request)
        )
    except ApplicationError as exc:
        messages.error(request, f"Could not accept the offer: {exc.message}")
        return redirect("work:home")
    messages.success(request, "Trip accepted. Head to the store.")
    return redirect("work:trip", public_id=offer.trip.public_id)


@require_POST
@driver_page
def offer_decline(request: HttpRequest, driver: Any, public_id: Any) -> HttpResponse:
    selectors.offer_get_for_driver(driver_id=driver.id, public_id=public_id)  # 404 if not yours
    form = DeclineForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.offer_decline(
            offer_public_id=public_id, driver_id=driver.id, actor=actor_for(request), reason=reason
        )
    except ApplicationError as exc:
        messages.error(request, f"Could not decline the offer: {exc.message}")
        return redirect("work:home")
    messages.success(request, "Offer declined.")
    return redirect("work:home")


@require_GET
@driver_page
def trips(request: HttpRequest, driver: Any) -> HttpResponse:
    rows = list(selectors.trip_list_for_driver(driver_id=driver.id, limit=30))
    pay = selectors.offer_accepted_for_trips(trip_ids=[t.id for t in rows])
    items = [
        {
            "trip": t,
            "stops": len(t.stops.all()),
            "total": present.money(pay[t.id].total_cents, pay[t.id].currency)
            if t.id in pay
            else "—",
        }
        for t in rows
    ]
    return render_page(request, "dispatch/trips.html", driver, {"items": items})
