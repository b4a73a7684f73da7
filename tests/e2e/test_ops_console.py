"""An ops user logs in, sees the market live (map, supply and demand, charts), finds an order
by the shop's order number and reads why its driver was chosen."""

import pytest

from dispatch import services as dispatch_services
from orders.models import Order
from tests.drivers.factories import approved_driver
from tests.e2e.conftest import PHONE, log_in, new_page, shoot
from tests.e2e.history import earlier_today
from tests.store.helpers import (
    PASSWORD,
    assigned_order,
    build_city,
    delivered_order,
    order_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _a_day_in_the_market(city):
    """Deliveries done, one on its way, orders waiting, a few more drivers around town."""
    earlier_today(city)
    delivered_order(city, external_order_id="SP-0901")
    order, _ = assigned_order(city, external_order_id="SP-1001")
    order_in(city.store_a, Order.Status.READY_FOR_PICKUP, external_order_id="SP-1003")
    order_in(
        city.store_b,
        external_order_id="SP-2001",
        dropoff_address="2400 West End Ave",
        dropoff_lat=36.149,
        dropoff_lng=-86.81,
    )
    for lat, lng in ((36.16, -86.78), (36.19, -86.84), (36.10, -86.74)):
        driver = approved_driver(home_market=city.market)
        dispatch_services.driver_go_online(driver_id=driver.id, lat=lat, lng=lng)
    return order


def test_ops_finds_an_order_and_its_dispatch_reasons(browser, site):
    city = build_city()
    order = _a_day_in_the_market(city)
    page = new_page(browser, site)
    page.goto("/ops/")
    page.wait_for_url("**/admin/login/?next=/ops/")
    log_in(page, page.url.replace(site.url, ""), "ops-user", PASSWORD)
    page.wait_for_url("**/ops/")
    page.get_by_role("heading", name="Operations").wait_for()
    shoot(page, "ops-index", docs=False)

    page.get_by_role("link", name="Nashville").first.click()
    page.locator("svg.market-map").wait_for()
    page.locator("[data-metrics-url][data-rendered]").wait_for()  # the charts are drawn
    assert page.locator("svg.market-map g.mk.store").count() == 2
    assert (
        page.locator("svg.market-map g.mk.driver-free, svg.market-map g.mk.driver-busy").count()
        == 4
    )
    delivered = Order.objects.filter(status="delivered").count()
    assert page.locator("[data-total=delivered]").inner_text() == str(delivered)
    shoot(page, "ops-market")

    page.get_by_label("Order id or the shop's order number").fill("sp-1001")
    page.get_by_role("button", name="Find order").click()
    page.wait_for_url(f"**/ops/orders/{order.public_id}/")
    offers = page.locator("#offers")
    offers.get_by_text("accepted").first.wait_for()
    text = offers.inner_text()
    for expected in ("optimal", "#1", "pickup_eta_s", "lateness_risk", "fairness", "block_bonus"):
        assert expected in text
    shoot(page, "ops-order")

    phone = new_page(browser, site, PHONE)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"/ops/markets/{city.market.slug}/")
    phone.locator("[data-metrics-url][data-rendered]").wait_for()
    shoot(phone, "ops-market-phone", docs=False)
