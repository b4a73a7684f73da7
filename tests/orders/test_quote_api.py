from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from orders.models import Quote
from tests.factories import StoreFactory
from tests.orders.helpers import DROPOFF

pytestmark = pytest.mark.django_db


def _quote(api, store, **overrides):
    body = {"store_id": str(store.public_id), **DROPOFF, "order_value_cents": 2500, **overrides}
    return api.post("/api/v1/quotes", body, format="json")


def test_quote_returns_fee_etas_and_expiry(api, store):
    response = _quote(api, store)
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "fee_cents", "currency", "pickup_eta", "dropoff_eta", "expires_at"}
    market = store.market
    assert market.delivery_fee_base_cents <= body["fee_cents"] <= market.delivery_fee_max_cents
    assert body["dropoff_eta"] > body["pickup_eta"]
    assert body["distance_m"] > 0
    assert Quote.objects.get(public_id=body["id"]).merchant == store.merchant


def test_quote_fee_grows_with_distance_and_is_capped(api, store):
    near = _quote(api, store, dropoff_lat=store.lat + 0.01, dropoff_lng=store.lng).json()
    far = _quote(api, store, dropoff_lat=store.lat + 0.09, dropoff_lng=store.lng).json()
    assert near["fee_cents"] < far["fee_cents"] <= store.market.delivery_fee_max_cents


def test_quote_outside_the_service_area_is_422(api, store):
    response = _quote(api, store, dropoff_lat=store.lat + 0.5, dropoff_lng=store.lng)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "outside_service_area"


def test_quote_at_the_edge_of_the_radius_is_served(api, store):
    # 0.1 degree of latitude is about 11.1 km; the radius is 12 km
    assert _quote(api, store, dropoff_lat=store.lat + 0.1).status_code == 201


@pytest.mark.parametrize(
    ("lat", "lng"), [(91, 0), (-91, 0), (0, 181), (0, -181), ("x", 0), (None, 0), ("NaN", 0)]
)
def test_quote_with_bad_coordinates_is_400(api, store, lat, lng):
    response = _quote(api, store, dropoff_lat=lat, dropoff_lng=lng)
    assert response.status_code == 400


def test_quote_at_null_island_is_422(api, store):
    response = _quote(api, store, dropoff_lat=0, dropoff_lng=0)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_coordinates"


def test_quote_for_a_closed_store_is_422(api, market, merchant):
    store = StoreFactory(
        market=market, merchant=merchant, opening_hours={"wed": [["08:00", "20:00"]]}
    )
    chicago = ZoneInfo("America/Chicago")
    with freeze_time(datetime(2026, 11, 25, 21, 30, tzinfo=chicago)):  # a Wednesday, 9:30 pm
        closed = _quote(api, store)
    with freeze_time(datetime(2026, 11, 25, 12, 0, tzinfo=chicago)):
        open_ = _quote(api, store)
    assert closed.status_code == 422
    assert closed.json()["error"]["code"] == "store_closed"
    assert open_.status_code == 201


def test_store_open_past_midnight(market, merchant):
    from orders.services import store_is_open

    store = StoreFactory(
        market=market, merchant=merchant, opening_hours={"fri": [["18:00", "02:00"]]}
    )
    chicago = ZoneInfo("America/Chicago")
    assert store_is_open(store, datetime(2026, 11, 27, 23, 0, tzinfo=chicago))
    assert not store_is_open(store, datetime(2026, 11, 27, 17, 0, tzinfo=chicago))


def test_quote_for_an_inactive_store_is_422(api, store):
    store.is_active = False
    store.save(update_fields=["is_active"])
    assert _quote(api, store).json()["error"]["code"] == "store_inactive"


def test_expired_quote_cannot_make_an_order(api, store):
    with freeze_time("2026-01-01 12:00:00"):
        quote = _quote(api, store).json()
    with freeze_time("2026-01-01 12:16:00"):
        response = api.post(
            "/api/v1/orders",
            {
                "quote_id": quote["id"],
                "external_order_id": "Q-1",
                "customer_name": "A",
                "customer_phone": "+16155550100",
                "order_value_cents": 2500,
                "dropoff_address": "x",
            },
            format="json",
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "quote_expired"
