"""The trip steps' and rounds' statements written out in SQL (dispatch/services/sql.py and the
selectors they use) read exactly what the ORM would."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from dispatch import selectors, services
from dispatch.models import BlockReservation, Offer, RateCard, Trip, TripStop
from dispatch.services import sql
from drivers import selectors as driver_selectors
from drivers.models import Document, Driver, Vehicle
from orders.models import Order
from spark.lib.actors import Actor
from spark.lib.geo import Point
from tests.dispatch.block_helpers import make_block
from tests.dispatch.conftest import online_driver
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db
HERE = Point(36.17, -86.78)


def _values(obj):
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def _accepted(city):
    market, store = city
    driver = online_driver(market)
    make_order(store, Order.Status.READY_FOR_PICKUP)
    make_order(store, Order.Status.READY_FOR_PICKUP, external_order_id="B")
    services.dispatch_round_run(market_id=market.id)
    offer = Offer.objects.get(driver=driver, status=Offer.Status.OPEN)
    services.offer_accept(
        offer_public_id=offer.public_id, driver_id=driver.id, actor=Actor.system("t")
    )
    services.trips_sync_assigned(trip_id=offer.trip_id)
    return driver, Trip.objects.get(id=offer.trip_id)


def test_trips_and_stops_read_like_the_orm(city):
    driver, trip = _accepted(city)
    with transaction.atomic():
        locked = sql.lock_trip(trip.id, driver_id=driver.id)
        assert _values(locked) == _values(Trip.objects.get(id=trip.id))
        with_stops, its_stops = sql.lock_trip_with_stops(trip.id, driver_id=driver.id)
        assert _values(with_stops) == _values(locked)
        assert sql.lock_trip(trip.id, driver_id=driver.id + 1) is None
        assert [_values(t) for t in sql.lock_trips([trip.id])] == [_values(trip)]
        stops = sql.active_stops(trip.id)
        orm = list(TripStop.objects.filter(trip=trip, is_active=True).order_by("sequence"))
        assert [_values(s) for s in stops] == [_values(s) for s in orm]
        assert [_values(s) for s in its_stops] == [_values(s) for s in orm]
        assert sql.lock_trip_with_stops(trip.id, driver_id=driver.id + 1) is None
        assert _values(sql.lock_stop(trip.id, orm[1].order_id)) == _values(orm[1])
    assert sql.pending_order_ids_by_driver([driver.id]) == {
        driver.id: sorted(s.order_id for s in orm)
    }
    assert sorted(sql.pending_order_ids([trip.id])) == sorted(s.order_id for s in orm)


def test_the_week_on_trips_adds_up_like_the_database(city):
    driver, trip = _accepted(city)
    now = timezone.now()
    Trip.objects.filter(id=trip.id).update(
        status=Trip.Status.COMPLETED, completed_at=now - timedelta(minutes=7, microseconds=3)
    )
    second = Trip.objects.create(
        market=trip.market,
        store=trip.store,
        status=Trip.Status.COMPLETED,
        driver=driver,
        assigned_at=now - timedelta(hours=2, microseconds=11),
        completed_at=now - timedelta(hours=1),
    )
    assert second.id
    since = now - timedelta(days=7)
    orm = (
        Trip.objects.filter(driver_id=driver.id, completed_at__gte=since)
        .values("driver_id")
        .annotate(busy=Sum(F("completed_at") - F("assigned_at")))
    )
    load = sql.drivers_load([driver.id], since=since, at=now)
    assert load.hours == {r["driver_id"]: r["busy"] for r in orm}
    assert load.busy == set()  # both trips completed, no offer open


def test_a_rounds_driver_reads_match_the_orm(city):
    market, _ = city
    driver = online_driver(market)
    no_car = online_driver(market)
    Vehicle.objects.filter(driver=no_car).delete()
    (online, other) = selectors.availability_list_online_positions(market_id=market.id)
    row = driver.availability
    assert (online.driver_id, online.lat, online.lng, online.location_at) == (
        row.driver_id,
        row.lat,
        row.lng,
        row.location_at,
    )
    profiles = driver_selectors.driver_list_dispatch_profiles(ids=[no_car.id, driver.id])
    assert [p.id for p in profiles] == sorted([driver.id, no_car.id])
    by_id = {p.id: p for p in profiles}
    assert by_id[driver.id] == driver_selectors.driver_get_dispatch_profile(driver_id=driver.id)
    assert by_id[no_car.id].capacity_units == driver_selectors.DEFAULT_CAPACITY_UNITS
    load = sql.drivers_load([driver.id, no_car.id], since=timezone.now(), at=timezone.now())
    assert load == sql.DriversLoad(busy=set(), hours={}, on_block=set())


def test_eligibility_is_approved_with_every_document_current(city):
    market, _ = city
    ok, expired, suspended = (online_driver(market) for _ in range(3))
    Document.objects.filter(driver=expired, kind=Document.REQUIRED[0]).update(
        expires_on=timezone.now().date() - timedelta(days=1)
    )
    Driver.objects.filter(id=suspended.id).update(status=Driver.Status.SUSPENDED)
    ids = [suspended.id, expired.id, ok.id]
    assert driver_selectors.driver_list_eligible(ids=ids) == [ok.id]
    assert driver_selectors.driver_can_go_online(driver_id=ok.id)
    assert not driver_selectors.driver_can_go_online(driver_id=expired.id)


def test_the_rate_card_in_force_reads_like_the_orm(city):
    market, _ = city
    later = RateCard.objects.create(
        market=market, effective_from=timezone.now() + timedelta(days=1), base_pay_cents=999
    )
    now_card = selectors.rate_card_for(market_id=market.id, at=timezone.now())
    assert _values(now_card) == _values(RateCard.objects.exclude(id=later.id).get(market=market))
    tomorrow = timezone.now() + timedelta(days=2)
    assert selectors.rate_card_for(market_id=market.id, at=tomorrow).id == later.id


def test_the_courier_is_introduced_once_and_then_only_moves(city):
    driver, trip = _accepted(city)
    order = Order.objects.filter(id__in=trip.stops.values("order_id")).first()
    assert order.courier_name == driver.user.first_name.split(" ")[0]
    assert order.courier_vehicle
    services.trip_arrive_at_store(
        trip_id=trip.id, driver_id=driver.id, actor=Actor.system("t"), location=HERE
    )
    order.refresh_from_db()
    assert order.courier_name == driver.user.first_name.split(" ")[0]
    assert (order.courier_lat, order.courier_lng) == (HERE.lat, HERE.lng)


def test_a_rounds_load_read_finds_busy_drivers_and_those_working_a_block(city):
    market, store = city
    on_block, offered, idle = (online_driver(market) for _ in range(3))
    now = timezone.now()
    block = make_block(market, now, opens_in=timedelta(hours=-2), starts_in=timedelta(hours=-1))
    BlockReservation.objects.create(
        block=block, driver=on_block, status=BlockReservation.Status.RESERVED, requested_at=now
    )
    make_order(store, Order.Status.READY_FOR_PICKUP)
    services.dispatch_round_run(market_id=market.id)
    busy = set(Offer.objects.filter(status=Offer.Status.OPEN).values_list("driver_id", flat=True))
    assert len(busy) == 1
    load = sql.drivers_load([on_block.id, offered.id, idle.id], since=now, at=now)
    assert load.busy == busy
    assert load.on_block == {on_block.id}
    assert load.hours == {}


def test_a_rounds_read_of_live_trips_matches_the_orm(city):
    market, _ = city
    driver, trip = _accepted(city)
    stops = TripStop.objects.filter(trip=trip, is_active=True)
    on_trip = set(stops.values_list("order_id", flat=True))
    assert sql.live_trips(market_id=market.id) == (on_trip, [])
    Trip.objects.filter(id=trip.id).update(status=Trip.Status.POOLED, boost_cents=75)
    trip.refresh_from_db()
    pooled = (trip.id, trip.store_id, 75, trip.unaccepted_rounds, sorted(on_trip))
    assert sql.live_trips(market_id=market.id) == (on_trip, [pooled])
    Trip.objects.filter(id=trip.id).update(status=Trip.Status.COMPLETED)
    assert sql.live_trips(market_id=market.id) == (set(), [])
