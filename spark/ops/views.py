"""The ops console: markets live (map, supply and demand, the day's charts), the queues that
wait on ops, and any order's dispatch story. Read-only: the admin stays the back office."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from dispatch import selectors as dispatch_selectors
from orders import selectors as order_selectors
from spark.lib import clock
from spark.ops import metrics, queues, selectors
from spark.ops.access import ops_page


@ops_page
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    markets = [
        selectors.market_now(market=m, now=now, with_map=False)
        for m in order_selectors.market_list()
    ]
    context = {"markets": markets, "queues": queues.all_queues(), "now": now, "nav": "markets"}
    return render(request, "ops/index.html", context)


@ops_page
@require_GET
def market(request: HttpRequest, slug: str) -> HttpResponse:
    """One market live; htmx polls the same URL for the map and the numbers."""
    now = clock.now()
    market_row = order_selectors.market_get_by_slug(slug=slug)
    data = selectors.market_now(market=market_row, now=now)
    if request.htmx:
        return render(request, "ops/_market_live.html", {"m": data})
    context = {
        "m": data,
        "metrics": metrics.day_metrics(market=market_row, now=now),
        "markets": order_selectors.market_list().exclude(id=market_row.id),
        "nav": "markets",
    }
    return render(request, "ops/market.html", context)


@ops_page
@require_GET
def market_metrics(request: HttpRequest, slug: str) -> JsonResponse:
    market_row = order_selectors.market_get_by_slug(slug=slug)
    return JsonResponse(metrics.day_metrics(market=market_row, now=clock.now()))


@ops_page
@require_GET
def queue_list(request: HttpRequest) -> HttpResponse:
    context = {"queues": queues.all_queues(), "now": clock.now(), "nav": "queues"}
    return render(request, "ops/queues.html", context)


@ops_page
@require_GET
def order_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    results = list(order_selectors.order_search(query=query)) if query else []
    if len(results) == 1:
        return redirect("ops:order", public_id=results[0].public_id)
    context = {"query": query, "results": results, "nav": "orders"}
    return render(request, "ops/order_search.html", context)


@ops_page
@require_GET
def order_detail(request: HttpRequest, public_id: Any) -> HttpResponse:
    order = order_selectors.order_get_by_public_id(public_id=public_id)
    trip = dispatch_selectors.trip_for_order(order_id=order.id)
    offers = list(dispatch_selectors.offer_list_for_order(order_id=order.id))
    context = {
        "order": order,
        "trip": trip,
        "offers": [selectors.OfferWhy.of(o) for o in offers],
        "trip_events": (
            list(dispatch_selectors.dispatch_event_list_for_trip(trip_id=trip.id)) if trip else []
        ),
        "nav": "orders",
    }
    return render(request, "ops/order.html", context)
