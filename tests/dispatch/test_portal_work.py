"""The work page: going online and offline, offers as cards (pay, countdown, why), accept and
decline, and errors shown in the page."""

import re
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from dispatch import services
from dispatch.models import DriverAvailability, Offer, Trip
from orders.models import Order
from spark.lib import clock
from tests.dispatch.test_portal_flow import WORK, accepted, offered, portal_for
from tests.drivers.factories import DriverFactory, approved_driver
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db


def test_going_online_with_the_phones_position(city):
    market, _ = city
    driver = approved_driver(home_market=market)
    client = portal_for(driver)
    page = client.get(WORK)
    assert b"Go online" in page.content
    response = client.post(f"{WORK}online", {"lat": "36.17", "lng": "-86.78"})
    assert response.status_code == 302
    row = DriverAvailability.objects.get(driver=driver)
    assert row.is_online
    assert (row.lat, row.lng) == (36.17, -86.78)
    assert b"Online" in client.get(WORK).content
    assert client.post(f"{WORK}offline").status_code == 302
    row.refresh_from_db()
    assert not row.is_online


def test_going_online_without_any_position_says_so(city):
    driver = approved_driver(home_market=city[0])
    response = portal_for(driver).post(f"{WORK}online", {})
    assert response.status_code == 422
    assert b"We need your location" in response.content
    assert not DriverAvailability.objects.filter(driver=driver, is_online=True).exists()


def test_invalid_coordinates_are_refused_in_the_page(city):
    driver = approved_driver(home_market=city[0])
    response = portal_for(driver).post(f"{WORK}online", {"lat": "0", "lng": "0"})
    assert response.status_code == 422
    assert b"not valid coordinates" in response.content


def test_a_driver_not_approved_cannot_go_online(city):
    driver = DriverFactory(home_market=city[0])
    client = portal_for(driver)
    assert b"You can't go online yet" in client.get(WORK).content
    response = client.post(f"{WORK}online", {"lat": "36.17", "lng": "-86.78"})
    assert response.status_code == 403
    assert b"Only approved drivers" in response.content


def test_the_offer_card_shows_pay_countdown_and_why(city):
    driver, offer, order = offered(city, tip_cents=300)
    page = portal_for(driver).get(WORK).content.decode()
    assert f'id="offer-{offer.public_id}"' in page
    assert f'data-ids="{offer.public_id}"' in page
    for text in (
        "Base pay",
        "Distance",
        "Customer tip",
        "$3.00",
        "/mi",
        "/hr est.",
        "engaged",
        "to accept",
        "Why you got this offer",
        "You were the best-placed driver for this trip.",
        order.dropoff_address,
    ):
        assert text in page, text
    total = f"${offer.total_cents // 100}.{offer.total_cents % 100:02d}"
    assert f"Accept {total}" in page


def test_the_offers_fragment_is_what_the_script_swaps_in(city):
    driver, offer, _ = offered(city)
    client = portal_for(driver)
    fragment = client.get(f"{WORK}offers/")
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert str(offer.public_id).encode() in fragment.content
    api_ids = [o["id"] for o in client.get("/api/v1/driver/offers").json()]
    assert api_ids == [str(offer.public_id)]


def test_decline_with_a_reason(city):
    driver, offer, _ = offered(city)
    client = portal_for(driver)
    response = client.post(f"{WORK}offers/{offer.public_id}/decline", {"reason": "Too far"})
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED
    assert offer.trip.events.filter(to_status="declined", note="Too far").exists()
    assert b"Offer declined." in client.get(WORK).content


def test_accepting_an_expired_offer_explains_why(city):
    driver, offer, _ = offered(city)
    Offer.objects.filter(id=offer.id).update(expires_at=clock.now() - timedelta(seconds=1))
    client = portal_for(driver)
    response = client.post(f"{WORK}offers/{offer.public_id}/accept", follow=True)
    assert b"Could not accept the offer: This offer has expired." in response.content
    assert Trip.objects.get().status == Trip.Status.OFFERED


def test_accepting_a_taken_trip_explains_why(city):
    market, store = city
    driver, offer, _ = offered(city)
    Offer.objects.filter(id=offer.id).update(status=Offer.Status.WITHDRAWN)
    response = portal_for(driver).post(f"{WORK}offers/{offer.public_id}/accept", follow=True)
    assert b"Could not accept the offer" in response.content


def test_the_work_page_leads_to_the_current_trip(city):
    client, driver, trip, _ = accepted(city)
    page = client.get(WORK).content.decode()
    assert "Trip in progress" in page
    assert f"/driver/work/trips/{trip.public_id}/" in page
    history = client.get(f"{WORK}trips/").content.decode()
    assert f"/driver/work/trips/{trip.public_id}/" in history


def test_the_development_map_picks_a_position(city, settings):
    settings.DEBUG = True
    driver, _, _ = offered(city)
    page = portal_for(driver).get(WORK).content.decode()
    assert 'class="map pickable"' in page
    assert 'data-dev="1"' in page
    assert "Development" in page


def test_no_development_map_in_production(city, settings):
    settings.DEBUG = False
    settings.EMBEDDED = False
    driver, _, _ = offered(city)
    page = portal_for(driver).get(WORK).content.decode()
    assert "pickable" not in page
    assert 'data-dev=""' in page


def test_offers_appear_after_a_round_without_reloading_the_page(city):
    market, store = city
    driver, _, _ = offered(city)
    client = portal_for(driver)
    first = client.get(f"{WORK}offers/").content
    services.offer_decline(
        offer_public_id=Offer.objects.get().public_id,
        driver_id=driver.id,
        actor=services.offers.Actor.system("test"),
    )
    make_order(store, Order.Status.READY_FOR_PICKUP)
    services.dispatch_round_run(market_id=market.id)
    fresh = client.get(f"{WORK}offers/").content
    assert fresh != first
    assert Offer.objects.filter(driver=driver, status=Offer.Status.OPEN).exists()


def test_the_page_gives_its_script_a_driver_token_for_location_pings(city):
    driver, _, _ = offered(city)
    page = portal_for(driver).get(WORK).content.decode()
    token = re.search(r'data-driver-token="([^"]+)"', page).group(1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Driver {token}")
    response = client.post("/api/v1/driver/location", {"lat": 36.2, "lng": -86.7}, format="json")
    assert response.status_code == 200
