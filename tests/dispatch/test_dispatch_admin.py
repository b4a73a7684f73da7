"""Ops in the admin: every dispatch list opens, trips are reassigned or cancelled only with a
reason (asked on an intermediate page), and an order's offer history with the reasons."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client

from dispatch.models import DispatchEvent, Offer, RateCard, Trip
from orders.models import Order
from tests.dispatch.test_portal_flow import accepted, offered
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
TRIPS = "/admin/dispatch/trip/"


@pytest.fixture
def ops(db):
    user = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_every_dispatch_admin_page_opens(ops, city):
    client, driver, trip, order = accepted(city)
    offer = Offer.objects.get()
    for path in (
        "ratecard/",
        f"ratecard/{RateCard.objects.get().id}/change/",
        "driveravailability/",
        "dispatchround/",
        "trip/",
        f"trip/{trip.id}/change/",
        "offer/",
        f"offer/{offer.id}/change/",
        "dispatchevent/",
    ):
        response = ops.get(f"/admin/dispatch/{path}")
        assert response.status_code == 200, path
    page = ops.get(f"{TRIPS}{trip.id}/change/").content.decode()
    assert f"/admin/dispatch/offer/?order={order.public_id}" in page
    assert "offer history" in page
    assert 'name="_save"' not in page  # read-only: trips change through the actions only


def test_the_offer_list_filters_by_order_and_shows_the_reasons(ops, city):
    market, store = city
    driver, offer, order = offered(city)
    from dispatch import services
    from tests.dispatch.conftest import online_driver
    from tests.orders.helpers import make_order

    online_driver(market, lat=36.18)
    other = make_order(store, Order.Status.READY_FOR_PICKUP)
    services.dispatch_round_run(market_id=market.id)
    assert Offer.objects.count() == 2
    page = ops.get(f"/admin/dispatch/offer/?order={order.public_id}").content.decode()
    assert "1 offer" in page
    assert f"/admin/dispatch/offer/{offer.id}/change/" in page
    assert "optimal rank 1" in page
    assert "pickup_eta_s=" in page
    other_page = ops.get(f"/admin/dispatch/offer/?order={other.public_id}").content.decode()
    assert f"/admin/dispatch/offer/{offer.id}/change/" not in other_page
    assert "0 offers" in ops.get("/admin/dispatch/offer/?order=not-a-uuid").content.decode()
    detail = ops.get(f"/admin/dispatch/offer/{offer.id}/change/").content.decode()
    assert "You were the best-placed driver for this trip." in detail


def action(ops, name, trip, reason=None):
    data = {"action": name, ACTION_CHECKBOX_NAME: [trip.id]}
    if reason is not None:
        data.update(apply="1", reason=reason)
    return ops.post(TRIPS, data)


@pytest.mark.parametrize("name", ["reassign", "cancel"])
def test_trip_actions_ask_for_a_reason_first(ops, city, name):
    client, driver, trip, order = accepted(city)
    page = action(ops, name, trip)
    assert page.status_code == 200
    assert b'name="reason"' in page.content
    assert str(trip.public_id).encode() in page.content
    blank = action(ops, name, trip, reason="   ")
    assert blank.status_code == 200
    assert b"A reason is required." in blank.content or b"This field is required." in blank.content
    trip.refresh_from_db()
    assert trip.status == Trip.Status.ASSIGNED


def test_reassign_with_a_reason_puts_the_trip_back_in_the_pool(ops, city):
    client, driver, trip, order = accepted(city)
    response = action(ops, "reassign", trip, reason="Driver's car broke down")
    assert response.status_code == 302
    trip.refresh_from_db()
    assert trip.status == Trip.Status.POOLED
    assert trip.driver is None
    event = DispatchEvent.objects.filter(trip=trip, to_status="pooled").get()
    assert event.note == "Driver's car broke down"
    assert event.actor_label.startswith("ops:")
    # The driver loses the trip: their page for it is now 404.
    assert client.get(f"/driver/work/trips/{trip.public_id}/").status_code == 404


def test_cancel_with_a_reason_cancels_the_trip_and_its_orders(ops, city):
    client, driver, trip, order = accepted(city)
    response = action(ops, "cancel", trip, reason="Store closed early")
    assert response.status_code == 302
    trip.refresh_from_db()
    order.refresh_from_db()
    assert trip.status == Trip.Status.CANCELLED
    assert order.status == Order.Status.CANCELLED
    assert b"This trip was cancelled" in client.get(f"/driver/work/trips/{trip.public_id}/").content


def test_an_action_the_service_refuses_is_reported(ops, city):
    client, driver, trip, order = accepted(city)
    client.post(
        f"/driver/work/trips/{trip.public_id}/arrive-at-store", {"lat": 36.17, "lng": -86.78}
    )
    client.post(
        f"/driver/work/trips/{trip.public_id}/pickup",
        {"lat": 36.17, "lng": -86.78, f"code_{order.public_id}": order.pickup_code},
    )
    response = action(ops, "cancel", trip, reason="Too late")
    assert response.status_code == 302
    messages = [m.message for m in response.wsgi_request._messages]
    assert any("not yet picked up" in m for m in messages)
    trip.refresh_from_db()
    assert trip.status == Trip.Status.IN_PROGRESS


def test_offers_and_trips_cannot_be_edited_or_added(ops, city):
    client, driver, trip, order = accepted(city)
    offer = Offer.objects.get()
    assert ops.get("/admin/dispatch/offer/add/").status_code == 403
    assert ops.get("/admin/dispatch/trip/add/").status_code == 403
    before = offer.total_cents
    ops.post(f"/admin/dispatch/offer/{offer.id}/change/", {"total_cents": 1})
    offer.refresh_from_db()
    assert offer.total_cents == before


def test_a_rate_card_in_force_is_read_only(ops, city):
    market, _ = city
    card = RateCard.objects.get(market=market)
    page = ops.get(f"/admin/dispatch/ratecard/{card.id}/change/").content.decode()
    assert 'name="base_pay_cents"' not in page
    assert ops.get(f"/admin/dispatch/ratecard/{card.id}/delete/").status_code == 403


def test_non_staff_cannot_open_the_dispatch_admin(city):
    client, driver, trip, order = accepted(city)
    assert client.get(TRIPS).status_code == 302
