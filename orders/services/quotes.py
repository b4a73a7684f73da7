"""Quotes: is a drop-off serviceable from a store, what does it cost, and when will it arrive."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from orders.models import Market, Merchant, Quote, Store
from orders.services import sql
from spark.lib import clock
from spark.lib.errors import NotFound, Unprocessable
from spark.lib.geo import GreatCircleEta, Point, haversine_km, is_valid_coordinate

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Estimate:
    fee_cents: int
    distance_m: int
    pickup_eta: datetime
    dropoff_eta: datetime


def eta_model_for(market: Market) -> GreatCircleEta:
    return GreatCircleEta(speed_kmh=market.average_speed_kmh, detour_factor=market.detour_factor)


def store_is_open(store: Store, at: datetime) -> bool:
    """Opening hours are local to the market; an empty table means always open."""
    if not store.opening_hours:
        return True
    local = at.astimezone(ZoneInfo(store.market.timezone))
    hhmm = local.strftime("%H:%M")
    for opens, closes in store.opening_hours.get(DAYS[local.weekday()], []):
        if closes <= opens:  # open past midnight
            if hhmm >= opens or hhmm < closes:
                return True
        elif opens <= hhmm < closes:
            return True
    return False


def estimate(
    *,
    store: Store,
    dropoff_lat: float,
    dropoff_lng: float,
    pickup_ready_at: datetime | None = None,
    now: datetime | None = None,
) -> Estimate:
    """Serviceability, fee and ETAs; raises a 422 when the store cannot deliver there."""
    if not is_valid_coordinate(dropoff_lat, dropoff_lng):
        raise Unprocessable("The drop-off coordinates are not valid.", code="invalid_coordinates")
    now = now or clock.now()
    market = store.market
    if not store.is_active or not market.is_active:
        raise Unprocessable("This store does not take deliveries.", code="store_inactive")
    store_point, dropoff = Point(store.lat, store.lng), Point(dropoff_lat, dropoff_lng)
    straight_km = haversine_km(store_point, dropoff)
    if straight_km > store.delivery_radius_km:
        raise Unprocessable(
            f"The drop-off is {straight_km:.1f} km from the store; it delivers within "
            f"{store.delivery_radius_km:.1f} km.",
            code="outside_service_area",
        )
    if not store_is_open(store, now):
        raise Unprocessable("The store is closed now.", code="store_closed")
    eta = eta_model_for(market)
    road_km = eta.road_km(store_point, dropoff)
    fee = market.delivery_fee_base_cents + round(market.delivery_fee_per_km_cents * road_km)
    driver_at_store = now + timedelta(minutes=market.driver_arrival_minutes)
    pickup_eta = max(driver_at_store, pickup_ready_at or now)
    travel = timedelta(seconds=eta.travel_seconds(store_point, dropoff))
    dropoff_eta = pickup_eta + travel + timedelta(minutes=market.handoff_minutes)
    return Estimate(
        fee_cents=min(fee, market.delivery_fee_max_cents),
        distance_m=round(road_km * 1000),
        pickup_eta=pickup_eta,
        dropoff_eta=dropoff_eta,
    )


def store_for_merchant(*, merchant: Merchant, store_public_id: object) -> Store:
    store = sql.store_for_merchant(merchant, store_public_id)
    if store is None:
        raise NotFound("No such store.", code="store_not_found")
    return store


@transaction.atomic
def quote_create(
    *,
    merchant: Merchant,
    store_public_id: object,
    dropoff_address: str,
    dropoff_lat: float,
    dropoff_lng: float,
    order_value_cents: int,
) -> Quote:
    store = store_for_merchant(merchant=merchant, store_public_id=store_public_id)
    now = clock.now()
    est = estimate(store=store, dropoff_lat=dropoff_lat, dropoff_lng=dropoff_lng, now=now)
    return Quote.objects.create(
        merchant=merchant,
        store=store,
        dropoff_address=dropoff_address,
        dropoff_lat=dropoff_lat,
        dropoff_lng=dropoff_lng,
        order_value_cents=order_value_cents,
        fee_cents=est.fee_cents,
        currency=store.market.currency,
        distance_m=est.distance_m,
        pickup_eta=est.pickup_eta,
        dropoff_eta=est.dropoff_eta,
        expires_at=now + timedelta(minutes=store.market.quote_ttl_minutes),
    )
