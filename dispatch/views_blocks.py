"""Driver portal pages for scheduled blocks (/driver/blocks/): thin views over the block
selectors and services. A driver sees their own market's blocks and their own reservations;
anything else is a 404 (BOLA), as everywhere in the portal."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dispatch import selectors_blocks as selectors
from dispatch import services
from drivers import selectors as driver_selectors
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import ApplicationError, NotFound

R = selectors.R


def driver_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in required; the view gets request.user's own driver. A user who is not a driver
    gets 404, and so does any row of another driver or market."""

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


def _page(
    request: HttpRequest, template: str, driver: Any, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    base = {
        "driver": driver,
        "tz": driver.home_market.timezone,
        "no_show_minutes": settings.BLOCKS_NO_SHOW_MINUTES,
    }
    return render(request, template, {**base, **context}, status=status)


def _actor(request: HttpRequest) -> Actor:
    return Actor.user(request.user, role="driver")


@require_GET
@driver_page
def block_list(request: HttpRequest, driver: Any) -> HttpResponse:
    now = clock.now()
    cards = selectors.block_cards_upcoming(
        driver_id=driver.id, market_id=driver.home_market_id, now=now
    )
    standing = selectors.driver_block_standing(
        driver_id=driver.id, tz=driver.home_market.timezone, now=now
    )
    eligible = driver_selectors.driver_can_go_online(driver_id=driver.id)
    context = {"cards": cards, "standing": standing, "eligible": eligible, "tab": "list"}
    return _page(request, "dispatch/blocks/list.html", driver, context)


@require_GET
@driver_page
def block_mine(request: HttpRequest, driver: Any) -> HttpResponse:
    rows = selectors.block_reservation_list_for_driver(driver_id=driver.id, now=clock.now())
    context = {
        "upcoming": [r for r in rows if r.is_upcoming],
        "past": [r for r in rows if not r.is_upcoming],
        "tab": "mine",
    }
    return _page(request, "dispatch/blocks/mine.html", driver, context)


def _detail(
    request: HttpRequest, driver: Any, public_id: Any, *, error: str = "", status: int = 200
) -> HttpResponse:
    card = selectors.block_card_for_driver(
        driver_id=driver.id, market_id=driver.home_market_id, public_id=public_id, now=clock.now()
    )
    eligible = driver_selectors.driver_can_go_online(driver_id=driver.id)
    context = {"card": card, "eligible": eligible, "error": error}
    return _page(request, "dispatch/blocks/detail.html", driver, context, status=status)


@require_GET
@driver_page
def block_detail(request: HttpRequest, driver: Any, public_id: Any) -> HttpResponse:
    return _detail(request, driver, public_id)


@require_POST
@driver_page
def block_request(request: HttpRequest, driver: Any, public_id: Any) -> HttpResponse:
    card = selectors.block_card_for_driver(
        driver_id=driver.id, market_id=driver.home_market_id, public_id=public_id, now=clock.now()
    )
    try:
        row = services.block_request(
            block_id=card.block.id, driver_id=driver.id, actor=_actor(request)
        )
    except NotFound:
        raise
    except ApplicationError as exc:
        return _detail(request, driver, public_id, error=exc.message, status=exc.status_code)
    if row.status == R.REQUESTED:
        messages.success(request, "You're in the lottery. We e-mail you the result of the draw.")
    else:
        messages.success(request, "The block is yours. Be online by the start.")
    return redirect("blocks:detail", public_id=public_id)


@require_GET
@driver_page
def reservation_detail(request: HttpRequest, driver: Any, reservation_id: int) -> HttpResponse:
    row = selectors.block_reservation_get_for_driver(
        driver_id=driver.id, reservation_id=reservation_id, now=clock.now()
    )
    events = selectors.block_reservation_events(reservation_id=reservation_id)
    context = {"row": row, "events": events, "tab": "mine"}
    return _page(request, "dispatch/blocks/reservation.html", driver, context)


@require_http_methods(["GET", "POST"])
@driver_page
def reservation_release(request: HttpRequest, driver: Any, reservation_id: int) -> HttpResponse:
    row = selectors.block_reservation_get_for_driver(
        driver_id=driver.id, reservation_id=reservation_id, now=clock.now()
    )
    if request.method == "POST":
        try:
            done = services.block_release(
                reservation_id=reservation_id, driver_id=driver.id, actor=_actor(request)
            )
        except NotFound:
            raise
        except ApplicationError as exc:
            context = {"row": row, "error": exc.message}
            return _page(request, "dispatch/blocks/release.html", driver, context, exc.status_code)
        if done.status == R.FORFEITED:
            messages.error(request, "Block forfeited: you were past the free-release cutoff.")
        else:
            messages.success(request, "Released. Nothing else happens.")
        return redirect("blocks:mine")
    return _page(request, "dispatch/blocks/release.html", driver, {"row": row, "tab": "mine"})
