"""A store associate logs in, marks an order ready, sees a driver take it on the live board
(no reload) with the pickup code to give the driver, and confirms the hand-off."""

import pytest
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.models import Offer
from orders import services as order_services
from orders.models import Order
from tests.e2e.conftest import PHONE, log_in, new_page, shoot
from tests.store.helpers import PASSWORD, build_city, delivered_order, driver_actor, order_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _busy_morning(city):
    """A few orders in other stages, so the board looks like a working day."""
    delivered_order(city, external_order_id="SP-0990", customer_name="Lee Park")
    order_in(  # packed for the afternoon: dispatch does not hold SP-1001 back for it
        city.store_a,
        external_order_id="SP-1002",
        customer_name="Ann Ortiz",
        pickup_ready_at=timezone.now() + timezone.timedelta(hours=3),
    )
    order_in(city.store_a, Order.Status.PICKED_UP, external_order_id="SP-0995")
    late = order_in(city.store_a, Order.Status.READY_FOR_PICKUP, external_order_id="SP-0981")
    Order.objects.filter(id=late.id).update(
        dropoff_window_end=timezone.now() - timezone.timedelta(minutes=5),
        dropoff_window_start=timezone.now() - timezone.timedelta(minutes=65),
    )
    order_services.order_courier_update(
        order_ids=list(
            Order.objects.filter(external_order_id="SP-0995").values_list("id", flat=True)
        ),
        courier=order_services.Courier(name="Chris", vehicle="Honda Fit"),
    )


def test_store_marks_an_order_ready_and_confirms_the_handoff(browser, site):
    city = build_city()
    _busy_morning(city)
    order = order_in(
        city.store_a,
        external_order_id="SP-1001",
        customer_name="Maria Lopez",
        items=({"name": "Milk", "quantity": 2}, {"name": "Bread", "quantity": 1}),
    )
    page = new_page(browser, site)
    log_in(page, "/store/", "staff-a", PASSWORD)
    page.wait_for_url(f"**/store/{city.store_a.public_id}/")
    ticket = page.locator('li.ticket[data-order="SP-1001"]')
    assert ticket.count() == 1
    assert "New" in page.locator("section.stage-new h2").inner_text()

    # Mark ready from the board (htmx swaps the board in place).
    ticket.get_by_role("button", name="Mark order SP-1001 ready").click()
    page.locator('section.stage-ready li.ticket[data-order="SP-1001"]').wait_for()
    page.get_by_text("SP-1001 is ready for pickup").wait_for()
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP

    # A dispatch round offers it and the driver accepts: the board shows it without a reload.
    dispatch_services.dispatch_round_run(market_id=city.market.id)
    offer = Offer.objects.get(driver=city.driver, status=Offer.Status.OPEN)
    dispatch_services.offer_accept(
        offer_public_id=offer.public_id, driver_id=city.driver.id, actor=driver_actor(city.driver)
    )
    assigned = page.locator('section.stage-assigned li.ticket[data-order="SP-1001"]')
    # The board polls every 5 s, counted from its last swap, so a poll that went out just
    # before the accept committed means the next one lands 10-12 s later: allow three polls.
    assigned.wait_for(timeout=20_000)
    assert "Dana" in assigned.inner_text()
    assert "Arrives" in assigned.inner_text()
    shoot(page, "store-board")

    # Hand-off: the page shows the code for the driver's app; the associate confirms here.
    assert order.pickup_code in assigned.inner_text()
    assigned.get_by_role("link", name="Hand over").click()
    page.get_by_role("heading", name="Hand over to the driver").wait_for()
    assert page.locator("#pickup-code").inner_text() == order.pickup_code
    page.get_by_role("button", name="Confirm hand-off").click()
    page.get_by_text("Check the driver's name and car before handing over.").wait_for()
    page.get_by_label("The driver and the car match the ones shown here").check()
    shoot(page, "store-handoff", docs=False)
    page.get_by_role("button", name="Confirm hand-off").click()
    page.get_by_text("Handed over to Dana").wait_for()
    assert page.locator("#order-status").inner_text() == "Picked up"
    order.refresh_from_db()
    assert order.status == Order.Status.PICKED_UP
    assert order.events.filter(to_status="picked_up", actor_label="store:staff-a").exists()
    shoot(page, "store-order")

    # Proof of delivery of an earlier order, for a dispute: photo, time, place.
    page.get_by_role("link", name="Proofs of delivery").first.click()
    page.get_by_role("link", name="#SP-0990").click()
    width = page.wait_for_function(
        "() => { const img = document.querySelector('.pod-photo img');"
        " return img && img.complete && img.naturalWidth; }"
    )
    assert width.json_value() == 480  # the photo came through the permission-checked view
    shoot(page, "store-proof-of-delivery")

    # The same board on a phone.
    phone = new_page(browser, site, PHONE)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"/store/{city.store_a.public_id}/")
    phone.locator("#board").wait_for()
    shoot(phone, "store-board-phone")
