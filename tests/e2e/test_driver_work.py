"""A driver logs in on a phone, goes online, accepts an offer from a dispatch round, picks the
order up with the code the store gives, and delivers it with a photo. Then the store sees the
proof of delivery, and the driver sees the trip's pay beside the offer's promise, cashes out
with instant pay, and finds the week's statement adding up."""

import pytest

from dispatch import services as dispatch_services
from dispatch.models import Trip
from orders.models import Order
from payouts import services as payout_services
from payouts.models import Earning, Payout
from payouts.periods import week_containing
from tests.drivers.factories import approved_driver
from tests.e2e.conftest import PHONE, new_page, shoot
from tests.orders.helpers import DROPOFF
from tests.store.helpers import NEAR_A, PASSWORD, build_city, doorstep_photo, order_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _phone(browser, site, lat, lng):
    page = new_page(browser, site, PHONE)
    page.context.grant_permissions(["geolocation"], origin=site.url)
    page.context.set_geolocation({"latitude": lat, "longitude": lng})
    return page


def test_driver_goes_online_accepts_an_offer_and_completes_it(browser, site, tmp_path):
    city = build_city()
    dispatch_services.driver_go_offline(driver_id=city.driver.id)  # only our driver is out
    driver = approved_driver(home_market=city.market)
    order = order_in(
        city.store_a, Order.Status.READY_FOR_PICKUP, customer_name="Ann Ortiz", tip_cents=300
    )

    page = _phone(browser, site, NEAR_A.lat, NEAR_A.lng)
    page.goto("/driver/login/")
    page.get_by_label("E-mail").fill(driver.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/driver/")
    page.goto("/driver/work/")
    page.get_by_role("button", name="Go online").click()
    page.locator(".flash li", has_text="You are online").wait_for()

    assert dispatch_services.dispatch_round_run(market_id=city.market.id).offers_made == 1
    accept = page.locator("button[data-accept]")
    accept.wait_for(timeout=20_000)  # the work page polls for offers
    shoot(page, "driver-offer")
    accept.click()
    page.wait_for_url("**/driver/work/trips/**")

    page.get_by_role("button", name="I'm at the store").click()
    page.locator("#step-pickup").wait_for()
    page.locator("#step-pickup input.code").fill(order.pickup_code)
    page.get_by_role("button", name="Confirm pickup").click()
    page.locator("form.proof-form").wait_for()
    order.refresh_from_db()
    assert order.status == Order.Status.PICKED_UP

    page.context.set_geolocation(
        {"latitude": DROPOFF["dropoff_lat"], "longitude": DROPOFF["dropoff_lng"]}
    )
    photo = tmp_path / "door.jpg"
    photo.write_bytes(doorstep_photo())
    page.locator("form.proof-form input[type=file]").set_input_files(str(photo))
    page.get_by_role("button", name="Complete delivery").click()
    page.get_by_role("heading", name="Trip complete").wait_for()
    shoot(page, "driver-trip-complete")
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert Trip.objects.get(driver=driver).status == Trip.Status.COMPLETED

    # The store's proof of delivery shows the photo, served behind the membership check.
    store = new_page(browser, site)
    store.goto("/store/login/")
    store.get_by_label("Username").fill("staff-a")
    store.get_by_label("Password").fill(PASSWORD)
    store.get_by_role("button", name="Log in").click()
    store.goto(f"/store/{city.store_a.public_id}/orders/{order.public_id}/proof/")
    width = store.wait_for_function(
        "() => { const img = document.querySelector('.pod-photo img');"
        " return img && img.complete && img.naturalWidth; }"
    )
    assert width.json_value() == 480
    shoot(store, "driver-delivery-proof", docs=False)

    # The earnings sweep (every minute on Celery beat under `make run`) posts the trip.
    assert payout_services.earnings_post() == 1
    earning = Earning.objects.get(trip__driver=driver, kind=Earning.Kind.TRIP)
    offer = earning.offer
    assert earning.pay_cents == offer.total_cents - offer.tip_cents  # the offer's promise
    assert earning.tip_cents == order.tip_cents  # the tip, in full
    total = _dollars(earning.total_cents)

    page.goto("/driver/earnings/")
    page.locator(".total .amount", has_text=total).first.wait_for()
    page.locator("a.row-link", has_text=city.store_a.name).click()
    page.wait_for_url("**/driver/earnings/trips/**")
    assert page.get_by_text("what the offer promised, beside what you were paid").is_visible()
    assert page.get_by_text("Base pay").first.is_visible()
    shoot(page, "driver-earnings-trip")

    # Instant pay: the whole balance less the card's fee, through the sandbox provider.
    page.goto("/driver/earnings/")
    page.get_by_role("button", name="Cash out").click()
    page.locator(".flash li", has_text="is on its way").wait_for()
    payout = Payout.objects.get(driver=driver, kind=Payout.Kind.INSTANT)
    assert payout.status == Payout.Status.PAID
    assert payout.amount_cents + payout.fee_cents == earning.total_cents
    page.goto("/driver/earnings/payouts/")
    page.locator("li", has_text=_dollars(payout.amount_cents)).first.wait_for()

    # The week's statement: the offer's promise and what was paid agree, line by line.
    week = week_containing(at=earning.earned_at, tz=city.market.timezone)
    page.goto(f"/driver/earnings/statements/{week.start.isoformat()}/")
    facts = page.locator("dl.facts")
    promised = facts.locator("dt:has-text('Offers promised') + dd").inner_text()
    assert promised == facts.locator("dt:has-text('Paid for trips') + dd").inner_text()
    assert total in facts.locator("dt:has-text('Total earned') + dd").inner_text()
    shoot(page, "driver-statement")


def _dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"
