"""Plain rows for payouts tests: a market's rate card, drivers, and trips with their orders,
stops, accepted offer and dispatch events in the state a test needs. Dispatch's services are
not used: payouts only reads these rows (through dispatch's selectors)."""

from datetime import datetime, timedelta

import factory
from django.utils import timezone

from dispatch.models import Block, BlockReservation, DispatchEvent, Offer, RateCard, Trip, TripStop
from orders.models import Order
from tests.drivers.factories import DriverFactory
from tests.factories import StoreFactory

LONG_AGO = timedelta(days=400)


def rate_card(market, **fields) -> RateCard:
    fields.setdefault("effective_from", timezone.now() - LONG_AGO)
    return RateCard.objects.create(market=market, **fields)


def driver(market, **fields):
    return DriverFactory(home_market=market, status="approved", **fields)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    store = factory.SubFactory(StoreFactory)
    merchant = factory.LazyAttribute(lambda o: o.store.merchant)
    external_order_id = factory.Sequence(lambda n: f"PAY-{n}")
    request_hash = "0" * 64
    customer_name = "Ann Customer"
    customer_phone = "+16155550100"
    dropoff_address = "600 Main St, Nashville"
    dropoff_lat = 36.178
    dropoff_lng = -86.75
    order_value_cents = 4599
    fee_cents = 599
    tip_cents = 300
    currency = "USD"
    pickup_ready_at = factory.LazyFunction(timezone.now)
    dropoff_window_start = factory.LazyFunction(timezone.now)
    dropoff_window_end = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    status = Order.Status.DELIVERED


def _offer(
    trip: Trip, driver, *, tip: int, base: int, distance: int, time: int, extra: int, boost: int
) -> Offer:
    return Offer.objects.create(
        trip=trip,
        driver=driver,
        status=Offer.Status.ACCEPTED,
        expires_at=timezone.now(),
        stops=[],
        store_name=trip.store.name,
        pickup_km=1.0,
        engaged_miles=5.0,
        estimated_minutes=30.0,
        base_cents=base,
        distance_cents=distance,
        time_cents=time,
        extra_stops_cents=extra,
        boost_cents=boost,
        tip_cents=tip,
        total_cents=base + distance + time + extra + boost + tip,
        cents_per_mile=0,
        cents_per_hour=0,
    )


def completed_trip(
    *,
    driver,
    store,
    completed_at: datetime | None = None,
    tips: tuple[int, ...] = (300,),
    returned: int = 0,
    base: int = 400,
    distance: int = 350,
    time: int = 100,
    extra: int = 0,
    boost: int = 0,
    wait_minutes: float = 5,
    engaged_minutes: float = 40,
    block_reservation=None,
) -> Trip:
    """A completed trip: one delivered order per tip, `returned` orders brought back."""
    completed_at = completed_at or timezone.now() - timedelta(minutes=5)
    assigned_at = completed_at - timedelta(minutes=engaged_minutes)
    arrived = assigned_at + timedelta(minutes=10)
    trip = Trip.objects.create(
        market=store.market,
        store=store,
        status=Trip.Status.COMPLETED,
        driver=driver,
        currency=store.market.currency,
        assigned_at=assigned_at,
        arrived_at_store_at=arrived,
        picked_up_at=arrived + timedelta(minutes=wait_minutes),
        completed_at=completed_at,
        status_changed_at=completed_at,
        block_reservation=block_reservation,
    )
    seq = 0
    for tip in tips:
        order = OrderFactory(store=store, tip_cents=tip)
        TripStop.objects.create(trip=trip, order=order, sequence=seq, status="delivered")
        seq += 1
    for _ in range(returned):
        order = OrderFactory(store=store, tip_cents=0, status=Order.Status.RETURNED_TO_STORE)
        TripStop.objects.create(trip=trip, order=order, sequence=seq, status="returned")
        seq += 1
    _offer(
        trip,
        driver,
        tip=sum(tips),
        base=base,
        distance=distance,
        time=time,
        extra=extra,
        boost=boost,
    )
    return trip


def cancelled_trip(
    *,
    driver,
    store,
    stage: str = "at_store",
    at: datetime | None = None,
    actor_label: str = "ops:tester",
    waited_minutes: float = 0,
) -> Trip:
    """A trip cancelled after `driver` accepted it, at `stage` (assigned, at_store, ...)."""
    at = at or timezone.now() - timedelta(minutes=5)
    trip = Trip.objects.create(
        market=store.market,
        store=store,
        status=Trip.Status.CANCELLED,
        driver=driver,
        currency=store.market.currency,
        assigned_at=at - timedelta(minutes=30),
        arrived_at_store_at=at - timedelta(minutes=waited_minutes) if stage == "at_store" else None,
        status_changed_at=at,
    )
    order = OrderFactory(store=store, tip_cents=250, status=Order.Status.CANCELLED)
    TripStop.objects.create(trip=trip, order=order, sequence=0, status="removed", is_active=False)
    DispatchEvent.objects.create(
        entity=DispatchEvent.Entity.TRIP,
        entity_id=trip.id,
        trip=trip,
        from_status=stage,
        to_status="cancelled",
        actor_label=actor_label,
        at=at,
    )
    _offer(trip, driver, tip=250, base=400, distance=350, time=100, extra=0, boost=0)
    return trip


def block_reservation(
    *, driver, market, ends_at: datetime, guaranteed_cents: int, status: str = "completed"
) -> BlockReservation:
    block = Block.objects.create(
        market=market,
        starts_at=ends_at - timedelta(hours=3),
        ends_at=ends_at,
        guaranteed_pay_cents=guaranteed_cents,
        capacity=5,
        opens_at=ends_at - timedelta(days=3),
        status=Block.Status.OPEN,
    )
    return BlockReservation.objects.create(
        block=block, driver=driver, status=status, requested_at=ends_at - timedelta(days=2)
    )
