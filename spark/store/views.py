"""The store dashboard: today's board, an order's page and actions, proof of delivery.

Views are thin: check membership (access.store_page), call one service or selector, render.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from dispatch import selectors as dispatch_selectors
from dispatch import services as dispatch_services
from orders import selectors as order_selectors
from orders import services as order_services
from spark.lib import clock
from spark.lib.errors import ApplicationError
from spark.store import selectors, texts
from spark.store.access import LOGIN_URL, actor_for, store_context, store_page
from spark.store.forms import CancelForm, HandoffForm

Order = Any  # orders.models.Order; only its attributes are read here


class LoginView(auth_views.LoginView):
    template_name = "store/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("store:index")

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("store:login")


@login_required(login_url=LOGIN_URL)
@cache_control(private=True, no_store=True)
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """One store: straight to its board. Several: pick one. None: this is not a store account."""
    stores = list(order_selectors.store_list_for_user(user_id=request.user.id).order_by("name"))
    if len(stores) == 1:
        return redirect("store:board", store_id=stores[0].public_id)
    if not stores:
        return render(request, "store/no_access.html", status=403)
    return render(request, "store/index.html", {"stores": stores})


@store_page
@require_GET
def board(request: HttpRequest, store: Any) -> HttpResponse:
    """The live board; htmx polls the same URL and gets just the board back."""
    data = selectors.board_for_store(store=store, now=clock.now())
    if request.htmx:
        return render(request, "store/_board.html", {"store": store, "board": data})
    return render(
        request, "store/board.html", store_context(request, store, board=data, nav="board")
    )


@store_page
@require_GET
def order_detail(request: HttpRequest, store: Any, order: Order) -> HttpResponse:
    return _order_page(request, store, order)


def _order_page(
    request: HttpRequest,
    store: Any,
    order: Order,
    *,
    handoff: HandoffForm | None = None,
    cancel: CancelForm | None = None,
    status: int = 200,
) -> HttpResponse:
    trip = dispatch_selectors.trip_for_order(order_id=order.id)
    context = {
        "order": order,
        "flags": [texts.FLAGS[f] for f in selectors.flags_for(order, clock.now())],
        "trip_orders": _trip_companions(trip, order),
        "handoff_form": handoff or HandoffForm(order=order),
        "cancel_form": cancel or CancelForm(),
        "can_handoff": order.status in ("driver_assigned", "driver_at_store"),
        "has_pod": order.status in selectors.POD_STATUSES,
    }
    template = "store/_order_live.html" if request.htmx else "store/order.html"
    return render(request, template, store_context(request, store, **context), status=status)


def _trip_companions(trip: Any, order: Order) -> list[Any]:
    """Other orders the same driver collects in this trip (handed over together)."""
    if trip is None or trip.status not in ("assigned", "at_store"):
        return []
    ids = [s.order_id for s in dispatch_selectors.trip_get(trip_id=trip.id).stops.all()]
    return [o for o in order_selectors.order_list_by_ids(ids=ids) if o.id != order.id]


def _attempt(request: HttpRequest, action: Callable[[], Any], success: str) -> bool:
    """Run one service; a domain error becomes a message for the user (and False)."""
    try:
        action()
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


def _back(request: HttpRequest, store: Any, order: Order) -> HttpResponse:
    """Back to where the action was taken: the board (htmx) or the order's page."""
    if request.POST.get("from") == "board":
        return redirect("store:board", store_id=store.public_id)
    return redirect("store:order", store_id=store.public_id, order_id=order.public_id)


@store_page
@require_POST
def order_ready(request: HttpRequest, store: Any, order: Order) -> HttpResponse:
    _attempt(
        request,
        lambda: order_services.order_mark_ready(
            merchant=order.merchant, public_id=order.public_id, actor=actor_for(request)
        ),
        f"Order {order.external_order_id} is ready for pickup.",
    )
    return _back(request, store, order)


@store_page
@require_POST
def order_handoff(request: HttpRequest, store: Any, order: Order) -> HttpResponse:
    """Staff hand the order to its driver after checking the driver's pickup code."""
    form = HandoffForm(request.POST, order=order)
    if not form.is_valid():
        return _order_page(request, store, order, handoff=form, status=422)
    trip = dispatch_selectors.trip_for_order(order_id=order.id)
    if trip is None:
        messages.error(request, "No driver has this order yet.")
        return _back(request, store, order)
    _attempt(
        request,
        lambda: dispatch_services.trip_confirm_pickup(
            trip_id=trip.id, actor=actor_for(request), codes=None, driver_id=None
        ),
        f"Handed over to {order.courier_name or 'the driver'}.",
    )
    return _back(request, store, order)


@store_page
@require_POST
def order_return(request: HttpRequest, store: Any, order: Order) -> HttpResponse:
    """Staff confirm that an undeliverable order is back on the shelf."""
    trip = dispatch_selectors.trip_for_order(order_id=order.id)
    if trip is None or order.status != "returning":
        messages.error(request, "This order is not on its way back to the store.")
        return _back(request, store, order)
    _attempt(
        request,
        lambda: dispatch_services.trip_stop_return(
            trip_id=trip.id, order_id=order.id, actor=actor_for(request)
        ),
        f"Order {order.external_order_id} is back at the store.",
    )
    return _back(request, store, order)


@store_page
@require_POST
def order_cancel(request: HttpRequest, store: Any, order: Order) -> HttpResponse:
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _order_page(request, store, order, cancel=form, status=422)
    _attempt(
        request,
        lambda: order_services.order_cancel(
            order_id=order.id, actor=actor_for(request), reason=form.cleaned_data["reason"]
        ),
        f"Order {order.external_order_id} is cancelled.",
    )
    return _back(request, store, order)
