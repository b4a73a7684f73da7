"""Who may open the work pages: log-in required, drivers only, and never another driver's offer,
trip or stop (404, as if it did not exist)."""

import pytest
from django.test import Client

from dispatch.models import Offer, Trip
from tests.dispatch.conftest import online_driver
from tests.dispatch.test_portal_flow import HERE, WORK, accepted, offered, portal_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ALL_PAGES = [
    ("get", ""),
    ("post", "online"),
    ("post", "offline"),
    ("get", "offers/"),
    ("get", "trips/"),
]


def offer_urls(offer: Offer) -> list[tuple[str, str]]:
    return [
        ("post", f"offers/{offer.public_id}/accept"),
        ("post", f"offers/{offer.public_id}/decline"),
    ]


def trip_urls(trip: Trip, order) -> list[tuple[str, str]]:
    base = f"trips/{trip.public_id}"
    stop = f"{base}/stops/{order.public_id}"
    return [
        ("get", f"{base}/"),
        ("post", f"{base}/arrive-at-store"),
        ("post", f"{base}/pickup"),
        ("post", f"{stop}/arrive"),
        ("post", f"{stop}/deliver"),
        ("post", f"{stop}/undeliverable"),
        ("post", f"{stop}/return"),
    ]


def test_anonymous_is_sent_to_the_portal_log_in(city):
    client, driver, trip, order = accepted(city)
    anonymous = Client()
    for method, path in ALL_PAGES + trip_urls(trip, order):
        response = getattr(anonymous, method)(f"{WORK}{path}", HERE)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/driver/login/?next="), path


def test_a_user_who_is_not_a_driver_gets_404(city):
    client, driver, trip, order = accepted(city)
    staff = Client()
    staff.force_login(UserFactory())
    for method, path in ALL_PAGES + trip_urls(trip, order):
        assert getattr(staff, method)(f"{WORK}{path}", HERE).status_code == 404, path


def test_another_drivers_offer_is_404(city):
    driver, offer, order = offered(city)
    other = portal_for(online_driver(city[0], lat=36.3))
    for method, path in offer_urls(offer):
        assert getattr(other, method)(f"{WORK}{path}").status_code == 404, path
    offer.refresh_from_db()
    assert offer.status == Offer.Status.OPEN
    assert str(offer.public_id).encode() not in other.get(f"{WORK}offers/").content


def test_another_drivers_trip_and_stops_are_404(city):
    client, driver, trip, order = accepted(city)
    other = portal_for(online_driver(city[0], lat=36.3))
    for method, path in trip_urls(trip, order):
        data = {**HERE, f"code_{order.public_id}": order.pickup_code, "reason": "Other"}
        assert getattr(other, method)(f"{WORK}{path}", data).status_code == 404, path
    trip.refresh_from_db()
    assert trip.status == Trip.Status.ASSIGNED
    assert str(trip.public_id).encode() not in other.get(f"{WORK}trips/").content


def test_a_stop_that_is_not_on_the_trip_is_404(city):
    client, driver, trip, order = accepted(city)
    stranger = "00000000-0000-4000-8000-000000000000"
    response = client.post(f"{WORK}trips/{trip.public_id}/stops/{stranger}/arrive", HERE)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path", ["online", "offline", "offers/{offer}/accept", "trips/{trip}/arrive-at-store"]
)
def test_actions_are_post_only(city, path):
    client, driver, trip, order = accepted(city)
    offer = Offer.objects.get()
    url = f"{WORK}{path.format(offer=offer.public_id, trip=trip.public_id)}"
    assert client.get(url).status_code == 405
