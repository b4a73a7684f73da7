"""What every portal page shares: the logged-in driver, private caching, error display."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control

from drivers import selectors
from drivers.models import Driver
from spark.lib.actors import Actor
from spark.lib.errors import ApplicationError, NotFound

DriverView = Callable[..., HttpResponse]


def driver_page(view: DriverView) -> Callable[..., HttpResponse]:
    """Log-in required; the view gets request.user's own driver. A user who is not a driver
    (staff, store staff) gets 404, and so does any row of another driver (BOLA)."""

    @login_required(login_url=settings.DRIVER_LOGIN_URL)
    @cache_control(private=True, no_store=True)
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        driver = selectors.driver_get_for_user(user_id=request.user.id)
        if driver is None:
            raise Http404("No driver profile")
        try:
            return view(request, driver, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


def posted(request: HttpRequest) -> Any:
    """The form data of a POST (even an empty one, which must fail validation), else None."""
    return request.POST if request.method == "POST" else None


def actor_for(request: HttpRequest) -> Actor:
    return Actor.user(request.user, role="driver")


def attempt(form: Form, action: Callable[[], Any]) -> Any:
    """Run a service; a domain error becomes a form error (and None)."""
    try:
        return action()
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return None


def page(
    request: HttpRequest,
    template: str,
    driver: Driver | None,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(request, template, {"driver": driver, **(context or {})}, status=status)
