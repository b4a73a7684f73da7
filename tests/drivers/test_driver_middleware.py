import pytest
from django.utils import timezone

from tests.drivers.factories import approved_driver

pytestmark = pytest.mark.django_db


def test_portal_pages_show_the_drivers_market_time(client):
    driver = approved_driver()
    client.force_login(driver.user)
    seen = {}

    from drivers import middleware

    def spy(request):
        seen["tz"] = timezone.get_current_timezone_name()
        from django.http import HttpResponse

        return HttpResponse("ok")

    mw = middleware.DriverTimezoneMiddleware(spy)
    request = client.get("/driver/").wsgi_request
    mw(request)
    assert seen["tz"] == driver.home_market.timezone
    assert timezone.get_current_timezone_name() == "UTC"
