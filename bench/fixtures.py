"""Rows for the API and load benchmarks: approved online drivers with tokens, and open offers
for them to accept (P7, L1, L2). Bulk inserts, no services: the load, not the seeding, is timed.
"""

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from dispatch.models import DriverAvailability, Offer, RateCard, Trip
from drivers.models import Document, Driver, Vehicle
from orders.models import Market, Store


def seed_drivers(
    *,
    market: Market,
    count: int,
    prefix: str = "bench-driver",
    lat: float = 36.16,
    lng: float = -86.78,
) -> tuple[list[Driver], list[str]]:
    """`count` approved drivers online in `market` with valid documents: (drivers, API tokens)."""
    now = timezone.now()
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        [user_model(username=f"{prefix}-{i}") for i in range(count)], batch_size=1000
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
                driver=d, market=market, is_online=True, lat=lat, lng=lng, location_at=now
            )
            for d in driver_rows
        ],
        batch_size=1000,
    )
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    return driver_rows, [t.key for t in tokens]


def _offers(market: Market, pairs: list[tuple[int, Driver]]) -> list[Offer]:
    """One open offer per (trip number, driver); pairs with the same number share a trip."""
    store = Store.objects.filter(market=market).first()
    now = timezone.now()
    RateCard.objects.get_or_create(market=market, effective_from=now - dt.timedelta(days=1))
    numbers = sorted({n for n, _ in pairs})
    trips = Trip.objects.bulk_create(
        [Trip(market=market, store=store, status="offered") for _ in numbers], batch_size=1000
    )
    trip_of = dict(zip(numbers, trips, strict=True))
    return Offer.objects.bulk_create(
        [
            Offer(
                trip=trip_of[n],
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
            for n, d in pairs
        ],
        batch_size=1000,
    )


def seed_drivers_and_offers(*, drivers: int, offers_per_driver: int) -> list[tuple[str, ...]]:
    """(API token, offer id, driver token) per driver; each offer has its own offered trip.

    A driver can hold one trip at a time, so each accept in the load uses a fresh driver:
    `drivers` x 1 pairs are accepted, the rest stay for the next run.
    """
    from dispatch.auth import driver_token_for

    market = Market.objects.get(slug="bench")
    driver_rows, tokens = seed_drivers(market=market, count=drivers)
    offers = _offers(market, [(i, d) for i, d in enumerate(driver_rows)])
    return [
        (tok, str(o.public_id), driver_token_for(driver_id=o.driver_id, market_id=market.id))
        for tok, o in zip(tokens, offers, strict=True)
    ]


def seed_offer_pool(
    *, drivers: int, offers_per_driver: int, drivers_per_trip: int, prefix: str, seed: int = 1
) -> list[tuple[str, list[str]]]:
    """(API token, [open offer ids]) per driver, where every trip is offered to
    `drivers_per_trip` drivers at once (broadcast twins): one of them can win it, the others
    get 409. Which drivers share a trip is shuffled (seeded) for each round of offers.
    """
    if drivers % drivers_per_trip:
        raise ValueError("drivers must be a multiple of drivers_per_trip")
    market = Market.objects.get(slug="bench")
    driver_rows, tokens = seed_drivers(market=market, count=drivers, prefix=prefix)
    rng = random.Random(seed)
    pairs: list[tuple[int, Driver]] = []
    for layer in range(offers_per_driver):
        order = list(range(drivers))
        rng.shuffle(order)
        base = layer * (drivers // drivers_per_trip)
        pairs += [(base + k // drivers_per_trip, driver_rows[i]) for k, i in enumerate(order)]
    offers = _offers(market, pairs)
    by_driver: dict[int, list[str]] = {d.id: [] for d in driver_rows}
    for o in offers:
        by_driver[o.driver_id].append(str(o.public_id))
    return [(tok, by_driver[d.id]) for d, tok in zip(driver_rows, tokens, strict=True)]
