"""What every dispatch page of the driver portal shares: the signed-in driver, where they are,
and how a domain error reaches the page."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control

from dispatch import selectors
from dispatch.auth import driver_token_for
from drivers import selectors as driver_selectors
from spark.lib.actors import Actor
from spark.lib.errors import NotFound, Unprocessable
from spark.lib.geo import Point


def driver_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in required (the portal's log-in page); the view gets request.user's own driver.
    A user who is not a driver gets 404, and so does any trip or offer of another driver."""

    @login_required(login_url=settings.DRIVER_LOGIN_URL)
    @cache_control(private=True, no_store=True)
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        driver = driver_selectors.driver_get_for_user(user_id=request.user.id)
        if driver is None:
            raise Http404("No driver profile")
        try:
            return view(request, driver, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


def actor_for(request: HttpRequest) -> Actor:
    return Actor.user(request.user, role="driver")


def dev_tools() -> bool:
    """Pick a position on the map instead of the phone's GPS: development only."""
    return bool(settings.DEBUG or settings.EMBEDDED)


def last_position(driver_id: int) -> Point | None:
    row = selectors.availability_get(driver_id=driver_id)
    if row is None or row.lat is None or row.lng is None:
        return None
    return Point(row.lat, row.lng)


def location_from(data: dict[str, Any], driver_id: int) -> Point:
    """The position the page sent (the phone's GPS, filled in by the script), else the last one
    we know. Without either, the step cannot be recorded."""
    lat, lng = data.get("lat"), data.get("lng")
    if lat is not None and lng is not None:
        return Point(lat, lng)
    known = last_position(driver_id)
    if known is None:
        raise Unprocessable(
            "We need your location: allow location access for this site and try again.",
            code="location_required",
        )
    return known


def render_page(
    request: HttpRequest, template: str, driver: Any, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    # The page's location pings carry a driver token: no database work per ping (P8).
    token = driver_token_for(driver_id=driver.id, market_id=driver.home_market_id)
    return render(
        request,
        template,
        {"driver": driver, "dev_tools": dev_tools(), "driver_token": token, **context},
        status=status,
    )
