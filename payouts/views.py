"""The driver's earnings pages, under /driver/earnings/: today and this week, each trip's
breakdown, statements (and their CSV), instant pay and payout history. Thin views over payouts'
selectors and services; every read is scoped to the logged-in driver (another driver's trip or
payout is 404)."""

import csv
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from drivers import selectors as driver_selectors
from payouts import selectors, services
from spark.lib.actors import Actor
from spark.lib.errors import ApplicationError, NotFound
from spark.lib.money import format_cents


def driver_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in required; the view gets the user's own driver. Anyone else: 404 (BOLA)."""

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


def _page(request: HttpRequest, template: str, driver: Any, **context: Any) -> HttpResponse:
    return render(request, template, {"driver": driver, **context})


def _week(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Http404("No such week") from exc


@require_GET
@driver_page
def home(request: HttpRequest, driver: Any) -> HttpResponse:
    recent = selectors.earning_list_recent_for_driver(driver_id=driver.id, limit=15)
    trips = selectors.trip_public_ids(trip_ids=[e.trip_id for e in recent if e.trip_id])
    return _page(
        request,
        "payouts/home.html",
        driver,
        summary=selectors.earnings_summary_for_driver(driver_id=driver.id),
        instant=selectors.instant_pay_for_driver(driver_id=driver.id),
        recent=[(e, trips.get(e.trip_id)) for e in recent],
        reviews=selectors.tip_review_list_for_driver(driver_id=driver.id, limit=3),
        payouts=selectors.payout_list_for_driver(driver_id=driver.id, limit=3),
    )


@require_GET
@driver_page
def trip_detail(request: HttpRequest, driver: Any, trip_public_id: Any) -> HttpResponse:
    breakdown = selectors.trip_breakdown_for_driver(
        driver_id=driver.id, trip_public_id=trip_public_id
    )
    return _page(request, "payouts/trip.html", driver, breakdown=breakdown, row=breakdown.row)


@require_GET
@driver_page
def statements(request: HttpRequest, driver: Any) -> HttpResponse:
    weeks = selectors.statement_weeks_for_driver(driver_id=driver.id)
    return _page(request, "payouts/statements.html", driver, weeks=weeks)


@require_GET
@driver_page
def statement_detail(request: HttpRequest, driver: Any, week: str) -> HttpResponse:
    statement = selectors.statement_for_driver(driver_id=driver.id, week_start=_week(week))
    labels = selectors.ITEM_LABELS
    items = [
        (i, labels.get(i.kind, i.kind), selectors.item_explanation(i)) for i in statement.items
    ]
    return _page(request, "payouts/statement.html", driver, statement=statement, items=items)


@require_GET
@driver_page
def statement_csv(request: HttpRequest, driver: Any, week: str) -> HttpResponse:
    statement = selectors.statement_for_driver(driver_id=driver.id, week_start=_week(week))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"spark-statement-{statement.week.start.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    csv.writer(response).writerows(selectors.statement_csv_rows(statement))
    return response


@require_GET
@driver_page
def payouts(request: HttpRequest, driver: Any) -> HttpResponse:
    rows = selectors.payout_list_for_driver(driver_id=driver.id)
    return _page(request, "payouts/payouts.html", driver, payouts=rows)


@require_POST
@driver_page
def instant_pay(request: HttpRequest, driver: Any) -> HttpResponse:
    try:
        payout = services.instant_payout_request(
            driver_id=driver.id, actor=Actor.user(request.user, role="driver")
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        amount = format_cents(payout.amount_cents, payout.currency)
        messages.success(request, f"Instant pay of {amount} is on its way.")
    return redirect("payouts:home")
