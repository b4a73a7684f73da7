"""The driver portal's work pages, end to end through form posts: online, an offer, the trip
from the store to every door, and a page for each trip status."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dispatch import services
from dispatch.models import Offer, Trip, TripStop
from orders.models import Order
from tests.dispatch.conftest import STORE, online_driver
from tests.drivers import files
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db
HERE = {"lat": "36.17", "lng": "-86.78"}
WORK = "/driver/work/"


def portal_for(driver) -> Client:
    client = Client()
    client.force_login(driver.user)
    return client


def offered(city, **order_fields):
    """An online driver with one open offer for one ready order."""
    market, store = city
    driver = online_driver(market)
    order = make_order(store, Order.Status.READY_FOR_PICKUP, **order_fields)
    services.dispatch_round_run(market_id=market.id)
    return driver, Offer.objects.get(driver=driver), order


def accepted(city, **order_fields):
    driver, offer, order = offered(city, **order_fields)
    client = portal_for(driver)
    response = client.post(f"{WORK}offers/{offer.public_id}/accept")
    trip = Trip.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{WORK}trips/{trip.public_id}/"
    return client, driver, trip, order


def photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("pod.jpg", files.jpeg_with_gps(), content_type="image/jpeg")


def test_whole_trip_through_the_portal_forms(city):
    market, store = city
    driver = online_driver(market)
    client = portal_for(driver)
    page = client.get(WORK)
    assert page.status_code == 200
    assert b"Looking for offers" in page.content
    order = make_order(store, Order.Status.READY_FOR_PICKUP, tip_cents=300)
    services.dispatch_round_run(market_id=market.id)
    offer = Offer.objects.get(driver=driver)
    cards = client.get(f"{WORK}offers/")
    assert str(offer.public_id).encode() in cards.content
    assert b"Why you got this offer" in cards.content
    assert client.post(f"{WORK}offers/{offer.public_id}/accept").status_code == 302
    trip = Trip.objects.get()
    base = f"{WORK}trips/{trip.public_id}"
    assert b"I'm at the store" in client.get(f"{base}/").content

    assert client.post(f"{base}/arrive-at-store", HERE).status_code == 302
    assert (
        client.post(f"{base}/pickup", {**HERE, f"code_{order.public_id}": order.pickup_code})[
            "Location"
        ]
        == f"{base}/"
    )
    stop = f"{base}/stops/{order.public_id}"
    assert client.post(f"{stop}/arrive", HERE).status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.DRIVER_AT_DROPOFF
    done = client.post(f"{stop}/deliver", {**HERE, "photo": photo()})
    assert done.status_code == 302
    trip.refresh_from_db()
    order.refresh_from_db()
    assert trip.status == Trip.Status.COMPLETED
    assert order.status == Order.Status.DELIVERED
    assert TripStop.objects.get(trip=trip).pod_photo
    final = client.get(f"{base}/")
    assert b"Trip complete" in final.content
    assert b"You earned" in final.content


@pytest.mark.parametrize(
    ("steps", "expect"),
    [
        ([], b"I'm at the store"),
        (["store"], b"Confirm pickup"),
        (["store", "pickup"], b"Complete delivery"),
        (["store", "pickup", "arrive"], b"Proof of delivery"),
        (["store", "pickup", "cant"], b"Returned to the store"),
        (["store", "pickup", "deliver"], b"Trip complete"),
        (["cancel"], b"This trip was cancelled"),
    ],
)
def test_trip_page_renders_in_every_status(city, steps, expect):
    client, driver, trip, order = accepted(city)
    base = f"{WORK}trips/{trip.public_id}"
    stop = f"{base}/stops/{order.public_id}"
    posts = {
        "store": (f"{base}/arrive-at-store", HERE),
        "pickup": (f"{base}/pickup", {**HERE, f"code_{order.public_id}": order.pickup_code}),
        "arrive": (f"{stop}/arrive", HERE),
        "cant": (f"{stop}/undeliverable", {**HERE, "reason": "Customer not available"}),
        "deliver": (f"{stop}/deliver", {**HERE, "photo": photo()}),
    }
    for step in steps:
        if step == "cancel":
            from spark.lib.actors import Actor

            services.trip_cancel(trip_id=trip.id, actor=Actor.system("test"), reason="store shut")
            continue
        url, data = posts[step]
        assert client.post(url, data).status_code == 302, step
    page = client.get(f"{base}/")
    assert page.status_code == 200
    assert expect in page.content
    assert b'<svg class="map' in page.content
    assert client.get(f"{WORK}trips/").status_code == 200


def test_undeliverable_then_returned_completes_the_trip(city):
    client, driver, trip, order = accepted(city)
    base = f"{WORK}trips/{trip.public_id}"
    client.post(f"{base}/arrive-at-store", HERE)
    client.post(f"{base}/pickup", {**HERE, f"code_{order.public_id}": order.pickup_code})
    stop = f"{base}/stops/{order.public_id}"
    response = client.post(
        f"{stop}/undeliverable", {**HERE, "reason": "Other", "details": "Gate locked"}
    )
    assert response.status_code == 302
    assert TripStop.objects.get().undeliverable_reason == "Other: Gate locked"
    assert client.post(f"{stop}/return", HERE).status_code == 302
    trip.refresh_from_db()
    order.refresh_from_db()
    assert trip.status == Trip.Status.COMPLETED
    assert order.status == Order.Status.RETURNED_TO_STORE


def test_other_reason_needs_details(city):
    client, driver, trip, order = accepted(city)
    base = f"{WORK}trips/{trip.public_id}"
    client.post(f"{base}/arrive-at-store", HERE)
    client.post(f"{base}/pickup", {**HERE, f"code_{order.public_id}": order.pickup_code})
    response = client.post(
        f"{base}/stops/{order.public_id}/undeliverable", {**HERE, "reason": "Other"}
    )
    assert response.status_code == 400
    assert b"Say what happened." in response.content


def test_wrong_pickup_code_is_shown_on_the_field(city):
    client, driver, trip, order = accepted(city)
    base = f"{WORK}trips/{trip.public_id}"
    client.post(f"{base}/arrive-at-store", HERE)
    response = client.post(f"{base}/pickup", {**HERE, f"code_{order.public_id}": "0000x"})
    assert response.status_code == 422
    assert b"ask the store associate" in response.content
    assert b"This code does not match." in response.content
    trip.refresh_from_db()
    assert trip.status == Trip.Status.AT_STORE


def test_proof_follows_the_orders_requirements(city):
    client, driver, trip, order = accepted(
        city, signature_required=True, pin_required=True, contains_alcohol=True
    )
    base = f"{WORK}trips/{trip.public_id}"
    client.post(f"{base}/arrive-at-store", HERE)
    client.post(f"{base}/pickup", {**HERE, f"code_{order.public_id}": order.pickup_code})
    page = client.get(f"{base}/").content
    for field in (b'name="signature_name"', b'name="pin"', b'name="id_checked"'):
        assert field in page
    assert b'capture="environment"' in page
    stop = f"{base}/stops/{order.public_id}"
    missing = client.post(f"{stop}/deliver", HERE)
    assert missing.status_code == 422
    assert b"Proof of delivery needs" in missing.content
    order.refresh_from_db()
    done = client.post(
        f"{stop}/deliver",
        {**HERE, "signature_name": "Ann", "pin": order.dropoff_pin, "id_checked": "on"},
    )
    assert done.status_code == 302
    stop_row = TripStop.objects.get()
    assert (stop_row.pod_signature_name, stop_row.pod_pin_ok, stop_row.pod_id_checked) == (
        "Ann",
        True,
        True,
    )


def test_a_step_out_of_order_shows_the_error_in_the_page(city):
    client, driver, trip, order = accepted(city)
    response = client.post(f"{WORK}trips/{trip.public_id}/stops/{order.public_id}/arrive", HERE)
    assert response.status_code == 409
    assert b"Pick up the orders before delivering them." in response.content
    assert b'id="work-alert" role="alert"' in response.content


def test_steps_without_a_position_use_the_last_known_one(city):
    client, driver, trip, order = accepted(city)
    assert client.post(f"{WORK}trips/{trip.public_id}/arrive-at-store").status_code == 302
    event = trip.events.filter(to_status="at_store").get()
    assert (round(event.lat, 4), round(event.lng, 4)) == (round(STORE[0] + 0.01, 4), STORE[1])
