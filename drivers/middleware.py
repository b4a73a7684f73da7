"""Driver pages show times in the driver's market time, not the server's UTC."""

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from drivers import selectors

PORTAL_PREFIX = "/driver/"


class DriverTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PORTAL_PREFIX):
            return self.get_response(request)  # nothing else activates a time zone
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            driver = selectors.driver_get_for_user(user_id=user.pk)
            if driver is not None:
                timezone.activate(ZoneInfo(driver.home_market.timezone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
