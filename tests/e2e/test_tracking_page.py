"""A customer opens the tracking link on a phone: status, driver, ETA, a map, instructions."""

import pytest
from django.utils import timezone

from orders import services as order_services
from tests.e2e.conftest import PHONE, new_page, shoot
from tests.store.helpers import build_city, picked_up_order

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_customer_opens_the_tracking_page(browser, site):
    city = build_city()
    order, _ = picked_up_order(
        city, dropoff_instructions="Blue door by the garage; please ring twice."
    )
    order_services.order_courier_update(  # the driver's last ping, a minute ago
        order_ids=[order.id],
        courier=order_services.Courier(
            lat=36.205, lng=-86.757, located_at=timezone.now() - timezone.timedelta(minutes=1)
        ),
    )
    page = new_page(browser, site, PHONE)
    page.goto(f"/t/{order.tracking_token}/")
    page.get_by_role("heading", name="Store A").wait_for()
    body = page.locator("main").inner_text()
    assert "Dana is your driver" in body
    assert "Arriving around" in body
    assert "Blue door by the garage" in body
    assert page.locator('li[aria-current="step"]').inner_text().startswith("Picked up")
    assert page.locator("svg.track-map g.mk").count() == 3  # store, you, the driver
    assert order.customer_phone not in page.content()
    shoot(page, "tracking-phone")

    desktop = new_page(browser, site)
    desktop.goto(f"/t/{order.tracking_token}/")
    desktop.locator("svg.track-map").wait_for()
    shoot(desktop, "tracking-desktop", docs=False)
    assert new_page(browser, site).goto("/t/not-the-token/").status == 404
