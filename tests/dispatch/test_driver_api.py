"""The driver JSON API: auth, scoping (BOLA), and the whole trip through HTTP."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from dispatch import services
from dispatch.models import Offer, Trip
from orders.models import Order
from tests.dispatch.conftest import online_driver
from tests.drivers import files
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db
HERE = {"lat": 36.17, "lng": -86.78}


def client_for(driver) -> APIClient:
    client = APIClient()
    client.force_authenticate(driver.user)
    return client


@pytest.fixture
def offered(city):
    market, store = city
    driver = online_driver(market)
    order = make_order(store, Order.Status.READY_FOR_PICKUP)
    services.dispatch_round_run(market_id=market.id)
    return driver, Offer.objects.get(driver=driver), order


def test_me_shows_the_drivers_state(offered):
    driver, offer, _ = offered
    body = client_for(driver).get("/api/v1/driver/me").json()
    assert body["is_online"] is True
    assert body["can_go_online"] is True
    assert body["open_offers"] == 1


def test_offers_list_shows_the_pay_breakdown_and_reason(offered):
    driver, offer, _ = offered
    [body] = client_for(driver).get("/api/v1/driver/offers").json()
    assert body["id"] == str(offer.public_id)
    assert body["total_cents"] == offer.total_cents
    assert body["reason"]["rank"] == 1
    assert {"base_cents", "distance_cents", "boost_cents", "tip_cents"} <= set(body)


def test_whole_trip_through_the_api(offered):
    driver, offer, order = offered
    api = client_for(driver)
    accepted = api.post(f"/api/v1/driver/offers/{offer.public_id}/accept").json()
    assert accepted["status"] == "accepted"
    trip = api.get(f"/api/v1/driver/trips/{accepted['trip_id']}").json()
    assert trip["status"] == "assigned"
    assert trip["offer"]["id"] == str(offer.public_id)
    base = f"/api/v1/driver/trips/{trip['id']}"
    assert api.get("/api/v1/driver/trips/current").json()["id"] == trip["id"]
    assert api.post(f"{base}/arrive-at-store", HERE, format="json").json()["status"] == "at_store"
    wrong = api.post(
        f"{base}/pickup", {**HERE, "codes": {str(order.public_id): "nope"}}, format="json"
    )
    assert wrong.status_code == 422
    ok = api.post(
        f"{base}/pickup",
        {**HERE, "codes": {str(order.public_id): order.pickup_code}},
        format="json",
    )
    assert ok.json()["status"] == "in_progress"
    stop = f"{base}/stops/{order.public_id}"
    assert api.post(f"{stop}/arrive", HERE, format="json").status_code == 200
    missing = api.post(f"{stop}/deliver", HERE, format="multipart")
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "proof_of_delivery_missing"
    photo = SimpleUploadedFile("pod.jpg", files.jpeg_with_gps(), content_type="image/jpeg")
    done = api.post(f"{stop}/deliver", {**HERE, "photo": photo}, format="multipart")
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "completed"
    order.refresh_from_db()
    assert order.status == "delivered"
    assert api.get("/api/v1/driver/trips/current").status_code == 204


def test_decline_through_the_api(offered):
    driver, offer, _ = offered
    api = client_for(driver)
    body = api.post(
        f"/api/v1/driver/offers/{offer.public_id}/decline", {"reason": "too far"}, format="json"
    ).json()
    assert body["status"] == "declined"
    again = api.post(f"/api/v1/driver/offers/{offer.public_id}/accept")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "offer_not_available"


def test_another_drivers_offer_and_trip_are_404(offered, city):
    driver, offer, order = offered
    other = client_for(online_driver(city[0], lat=36.3))
    assert other.post(f"/api/v1/driver/offers/{offer.public_id}/accept").status_code == 404
    assert other.post(f"/api/v1/driver/offers/{offer.public_id}/decline").status_code == 404
    client_for(driver).post(f"/api/v1/driver/offers/{offer.public_id}/accept")
    trip = Trip.objects.get()
    for path in ("", "/arrive-at-store", "/pickup", f"/stops/{order.public_id}/arrive"):
        method = other.get if path == "" else other.post
        response = method(f"/api/v1/driver/trips/{trip.public_id}{path}", HERE, format="json")
        assert response.status_code == 404, path
    assert other.get("/api/v1/driver/offers").json() == []


def test_non_drivers_and_anonymous_are_refused(offered, merchant):
    from tests.factories import UserFactory

    assert APIClient().get("/api/v1/driver/me").status_code in (401, 403)
    staff = APIClient()
    staff.force_authenticate(UserFactory())
    assert staff.get("/api/v1/driver/offers").status_code == 403


@pytest.mark.parametrize(
    "body", [{}, {"lat": 91, "lng": 0}, {"lat": "x", "lng": 1}, {"lat": 0, "lng": 0}]
)
def test_location_ping_rejects_bad_coordinates(offered, body):
    driver, _, _ = offered
    response = client_for(driver).post("/api/v1/driver/location", body, format="json")
    assert response.status_code in (400, 422)


def test_location_ping_updates_the_position(offered):
    driver, _, _ = offered
    response = client_for(driver).post(
        "/api/v1/driver/location", {"lat": 36.2, "lng": -86.7}, format="json"
    )
    assert response.status_code == 200
    from dispatch.models import DriverAvailability
    from dispatch.services.availability import positions_for

    rows = list(DriverAvailability.objects.filter(driver=driver))
    assert positions_for(market_id=driver.home_market_id, rows=rows)[driver.id].lat == 36.2


def test_accepting_too_fast_is_rate_limited(offered, monkeypatch):
    from spark.lib.throttle import FixedWindowThrottle

    monkeypatch.setattr(FixedWindowThrottle, "THROTTLE_RATES", {"offer_accept": "3/min"})
    driver, offer, _ = offered
    api = client_for(driver)
    with freeze_time(timezone.now()):  # no window edge between the five
        codes = [
            api.post(f"/api/v1/driver/offers/{offer.public_id}/accept").status_code
            for _ in range(5)
        ]
    assert codes[0] == 200
    assert codes[-1] == 429


def test_location_pings_with_a_driver_token_need_no_session(offered, django_assert_num_queries):
    driver, _, _ = offered
    token = (
        client_for(driver)
        .post("/api/v1/driver/online", {"lat": 36.1, "lng": -86.7}, format="json")
        .json()["driver_token"]
    )
    anon = APIClient()
    anon.credentials(HTTP_AUTHORIZATION=f"Driver {token}")
    with django_assert_num_queries(0):  # Redis only (the test settings have REDIS_URL)
        response = anon.post("/api/v1/driver/location", {"lat": 36.2, "lng": -86.7}, format="json")
    assert response.status_code == 200
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION=f"Driver {token[:-2]}xx")
    assert (
        forged.post(
            "/api/v1/driver/location", {"lat": 36.2, "lng": -86.7}, format="json"
        ).status_code
        == 401
    )
