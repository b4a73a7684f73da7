"""Rows for the API benchmarks: drivers with tokens, each with open offers to accept (P7)."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from dispatch.models import DriverAvailability, Offer, RateCard, Trip
from drivers.models import Document, Driver, Vehicle
from orders.models import Market, Store


def seed_drivers_and_offers(*, drivers: int, offers_per_driver: int) -> list[tuple[str, ...]]:
    """(API token, offer id, ping token) per driver; each offer has its own offered trip.

    A driver can hold one trip at a time, so each accept in the load uses a fresh driver:
    `drivers` x 1 pairs are accepted, the rest stay for the next run.
    """
    market = Market.objects.get(slug="bench")
    store = Store.objects.filter(market=market).first()
    now = timezone.now()
    RateCard.objects.get_or_create(market=market, effective_from=now - dt.timedelta(days=1))
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        [user_model(username=f"bench-driver-{i}") for i in range(drivers)], batch_size=1000
    )
    driver_rows = Driver.objects.bulk_create(
        [Driver(user=u, home_market=market, status="approved", is_21_plus=True) for u in users],
        batch_size=1000,
    )
    Vehicle.objects.bulk_create(
        [Vehicle(driver=d, make="Toyota", model="Corolla", year=2020) for d in driver_rows],
        batch_size=1000,
    )
    Document.objects.bulk_create(
        [
            Document(
                driver=d,
                kind=k,
                file="x",
                content_type="image/png",
                size_bytes=1,
                sha256="0" * 64,
                expires_on=(now + dt.timedelta(days=365)).date(),
                status="approved",
            )
            for d in driver_rows
            for k in Document.REQUIRED
        ],
        batch_size=2000,
    )
    DriverAvailability.objects.bulk_create(
        [
            DriverAvailability(
                driver=d, market=market, is_online=True, lat=36.16, lng=-86.78, location_at=now
            )
            for d in driver_rows
        ],
        batch_size=1000,
    )
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    trips = Trip.objects.bulk_create(
        [Trip(market=market, store=store, status="offered") for _ in range(drivers)],
        batch_size=1000,
    )
    offers = Offer.objects.bulk_create(
        [
            Offer(
                trip=t,
                driver=d,
                expires_at=now + dt.timedelta(hours=2),
                stops=[],
                store_name="S",
                pickup_km=1,
                engaged_miles=3,
                estimated_minutes=20,
                base_cents=400,
                distance_cents=210,
                tip_cents=300,
                total_cents=910,
                cents_per_mile=303,
                cents_per_hour=2730,
            )
            for t, d in zip(trips, driver_rows, strict=True)
        ],
        batch_size=1000,
    )
    from dispatch.auth import ping_token_for

    return [
        (tok.key, str(o.public_id), ping_token_for(driver_id=o.driver_id, market_id=market.id))
        for tok, o in zip(tokens, offers, strict=True)
    ]
