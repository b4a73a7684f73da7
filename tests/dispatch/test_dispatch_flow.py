"""Rounds, offers and the trip from store to door, through the services."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from dispatch import services
from dispatch.models import DispatchRound, Offer, Trip, TripStop
from orders import services as order_services
from orders.models import Order
from spark.lib import sql as lib_sql
from spark.lib.actors import Actor
from spark.lib.errors import InvalidTransition, NotFound, Unprocessable
from spark.lib.geo import Point
from tests.dispatch.conftest import online_driver
from tests.drivers import files
from tests.drivers.factories import driver_in
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db
HERE = Point(36.17, -86.78)


def _actor(driver):
    return Actor.user(driver.user, role="driver")


def _ready(store, **kwargs):
    return make_order(store, Order.Status.READY_FOR_PICKUP, **kwargs)


def _offer_for(driver):
    return Offer.objects.get(driver=driver, status=Offer.Status.OPEN)


def test_round_offers_a_ready_order_to_an_online_driver(city):
    market, store = city
    driver = online_driver(market)
    order = _ready(store)
    round_row = services.dispatch_round_run(market_id=market.id)
    assert round_row.offers_made == 1
    offer = _offer_for(driver)
    assert offer.trip.status == Trip.Status.OFFERED
    assert offer.total_cents == (
        offer.base_cents
        + offer.distance_cents
        + offer.time_cents
        + offer.extra_stops_cents
        + offer.boost_cents
        + offer.tip_cents
    )
    assert offer.tip_cents == order.tip_cents
    assert offer.engaged_miles > 0
    assert offer.cents_per_mile > 0
    assert offer.reason["rank"] == 1
    assert "pickup_eta_s" in offer.reason["terms"]
    order.refresh_from_db()
    assert order.status == Order.Status.OFFERED
    assert DispatchRound.objects.count() == 1


def test_round_offers_nothing_to_offline_or_unapproved_drivers(city):
    market, store = city
    gone = online_driver(market)
    services.driver_go_offline(driver_id=gone.id)
    driver_in("suspended", home_market=market)
    _ready(store)
    assert services.dispatch_round_run(market_id=market.id).offers_made == 0


def test_unapproved_driver_cannot_go_online(city):
    market, _ = city
    for status in ("applied", "documents_pending", "screening", "suspended", "deactivated"):
        driver = driver_in(status, home_market=market)
        with pytest.raises(services.NotEligible):
            services.driver_go_online(driver_id=driver.id, lat=36.1, lng=-86.7)


def test_accept_assigns_the_trip_and_moves_its_orders(city, django_capture_on_commit_callbacks):
    market, store = city
    driver = online_driver(market)
    order = _ready(store)
    services.dispatch_round_run(market_id=market.id)
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        offer = services.offer_accept(
            offer_public_id=_offer_for(driver).public_id,
            driver_id=driver.id,
            actor=_actor(driver),
        )
    assert offer.status == Offer.Status.ACCEPTED
    trip = Trip.objects.get()
    assert (trip.status, trip.driver_id) == (Trip.Status.ASSIGNED, driver.id)
    order.refresh_from_db()
    assert order.status == Order.Status.OFFERED  # the contested part only, until the follow-up
    for callback in after_commit:
        callback()  # the task kicked on commit (eager in tests)
    order.refresh_from_db()
    assert order.status == Order.Status.DRIVER_ASSIGNED
    assert order.events.filter(to_status="driver_assigned").count() == 1


def test_two_accepts_in_one_second_are_both_followed_up_when_tasks_run_at_once(
    city, django_capture_on_commit_callbacks
):
    """The kick is coalesced by deferring one sweep to the end of the second; an eager app
    (tests, CELERY_TASK_ALWAYS_EAGER) cannot defer, so it must not coalesce either."""
    market, store = city
    orders = []
    for _ in range(2):
        driver = online_driver(market)
        orders.append(_ready(store))
        services.dispatch_round_run(market_id=market.id)
        with django_capture_on_commit_callbacks(execute=True):
            services.offer_accept(
                offer_public_id=_offer_for(driver).public_id,
                driver_id=driver.id,
                actor=_actor(driver),
            )
    for order in orders:
        order.refresh_from_db()
        assert order.status == Order.Status.DRIVER_ASSIGNED


def test_the_sweep_completes_an_accept_whose_follow_up_was_lost(city):
    market, store = city
    driver = online_driver(market)
    order = _ready(store)
    services.dispatch_round_run(market_id=market.id)
    services.offer_accept(
        offer_public_id=_offer_for(driver).public_id, driver_id=driver.id, actor=_actor(driver)
    )  # on_commit never runs in this test
    assert services.trips_sync_assigned() == 1
    assert services.trips_sync_assigned() == 0  # idempotent
    order.refresh_from_db()
    assert order.status == Order.Status.DRIVER_ASSIGNED
    assert order.courier_name


def test_offer_accept_fails_when_expired(city):
    market, store = city
    driver = online_driver(market)
    _ready(store)
    services.dispatch_round_run(market_id=market.id)
    offer = _offer_for(driver)
    with freeze_time(offer.expires_at + timedelta(seconds=1)), pytest.raises(services.OfferExpired):
        services.offer_accept(
            offer_public_id=offer.public_id, driver_id=driver.id, actor=_actor(driver)
        )


def test_another_drivers_offer_is_404(city):
    market, store = city
    driver = online_driver(market)
    other = online_driver(market, lat=36.30)
    _ready(store)
    services.dispatch_round_run(market_id=market.id)
    offer = _offer_for(driver)
    with pytest.raises(NotFound):
        services.offer_accept(
            offer_public_id=offer.public_id, driver_id=other.id, actor=_actor(other)
        )


def test_decline_returns_the_trip_to_the_pool_with_a_boost(city):
    market, store = city
    driver = online_driver(market)
    order = _ready(store)
    services.dispatch_round_run(market_id=market.id)
    offer = _offer_for(driver)
    services.offer_decline(
        offer_public_id=offer.public_id, driver_id=driver.id, actor=_actor(driver)
    )
    trip = Trip.objects.get()
    assert trip.status == Trip.Status.POOLED
    assert trip.unaccepted_rounds == 1
    assert trip.boost_cents == 150
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP
    services.dispatch_round_run(market_id=market.id)
    again = Offer.objects.filter(status=Offer.Status.OPEN).get()
    assert again.boost_cents == 150
    assert again.total_cents == offer.total_cents + 150


def test_expired_offers_are_boosted_then_broadcast(city):
    market, store = city
    drivers = [online_driver(market, lat=36.16 + i * 0.005) for i in range(3)]
    _ready(store)
    now = timezone.now()
    for i in range(5):
        with freeze_time(now + timedelta(minutes=2 * i)):
            for d in drivers:
                services.driver_location_update(
                    driver_id=d.id, market_id=market.id, lat=36.16, lng=-86.78
                )
            services.dispatch_round_run(market_id=market.id)
    trip = Trip.objects.get()
    assert trip.unaccepted_rounds == 4
    assert trip.is_broadcast
    assert trip.status == Trip.Status.OFFERED
    open_offers = Offer.objects.filter(trip=trip, status=Offer.Status.OPEN)
    assert open_offers.count() == 3
    assert all(o.is_broadcast for o in open_offers)
    first, second = list(open_offers)[:2]
    services.offer_accept(
        offer_public_id=first.public_id, driver_id=first.driver_id, actor=Actor.system("t")
    )
    with pytest.raises(services.OfferNotAvailable):
        services.offer_accept(
            offer_public_id=second.public_id, driver_id=second.driver_id, actor=Actor.system("t")
        )
    assert Offer.objects.filter(trip=trip, status=Offer.Status.ACCEPTED).count() == 1


def _assigned_trip(city, **order_kwargs):
    market, store = city
    driver = online_driver(market)
    order = _ready(store, **order_kwargs)
    services.dispatch_round_run(market_id=market.id)
    services.offer_accept(
        offer_public_id=_offer_for(driver).public_id, driver_id=driver.id, actor=_actor(driver)
    )
    services.trips_sync_assigned()  # what the task kicked on commit does
    return driver, Trip.objects.get(), Order.objects.get(id=order.id)


def _photo():
    return SimpleUploadedFile("pod.jpg", files.jpeg_with_gps(), content_type="image/jpeg")


def test_trip_flow_from_store_to_door_with_photo_proof(city):
    driver, trip, order = _assigned_trip(city)
    actor = _actor(driver)
    services.trip_arrive_at_store(trip_id=trip.id, driver_id=driver.id, actor=actor, location=HERE)
    with pytest.raises(Exception, match="pickup code"):
        services.trip_confirm_pickup(
            trip_id=trip.id,
            driver_id=driver.id,
            actor=actor,
            location=HERE,
            codes={order.id: "0000x"},
        )
    services.trip_confirm_pickup(
        trip_id=trip.id,
        driver_id=driver.id,
        actor=actor,
        location=HERE,
        codes={order.id: order.pickup_code},
    )
    services.trip_stop_arrive(
        trip_id=trip.id, driver_id=driver.id, order_id=order.id, actor=actor, location=HERE
    )
    with pytest.raises(services.ProofMissing):
        services.trip_stop_deliver(
            trip_id=trip.id,
            driver_id=driver.id,
            order_id=order.id,
            proof=services.Proof(),
            actor=actor,
            location=HERE,
        )
    services.trip_stop_deliver(
        trip_id=trip.id,
        driver_id=driver.id,
        order_id=order.id,
        proof=services.Proof(photo=_photo()),
        actor=actor,
        location=HERE,
    )
    trip.refresh_from_db()
    order.refresh_from_db()
    assert trip.status == Trip.Status.COMPLETED
    assert trip.completed_at
    assert order.status == Order.Status.DELIVERED
    stop = TripStop.objects.get(trip=trip)
    assert stop.pod_photo
    assert stop.pod_lat == HERE.lat
    statuses = [e.to_status for e in order.events.all()]
    assert statuses == [
        "created",
        "ready_for_pickup",
        "offered",
        "driver_assigned",
        "driver_at_store",
        "picked_up",
        "driver_at_dropoff",
        "delivered",
    ]
    assert order.events.get(to_status="delivered").lat == HERE.lat


def test_delivery_needs_pin_and_id_check_when_the_order_asks(city):
    driver, trip, order = _assigned_trip(city, pin_required=True, contains_alcohol=True)
    actor = _actor(driver)
    services.trip_confirm_pickup(
        trip_id=trip.id,
        driver_id=driver.id,
        actor=actor,
        location=HERE,
        codes={order.id: order.pickup_code},
    )
    bad = services.Proof(photo=_photo(), pin="9999" if order.dropoff_pin != "9999" else "0000")
    with pytest.raises(services.ProofMissing) as exc:
        services.trip_stop_deliver(
            trip_id=trip.id,
            driver_id=driver.id,
            order_id=order.id,
            proof=bad,
            actor=actor,
            location=HERE,
        )
    assert len(exc.value.extra["missing"]) == 2
    good = services.Proof(photo=_photo(), pin=order.dropoff_pin, id_checked=True)
    services.trip_stop_deliver(
        trip_id=trip.id,
        driver_id=driver.id,
        order_id=order.id,
        proof=good,
        actor=actor,
        location=HERE,
    )
    stop = TripStop.objects.get(trip=trip)
    assert stop.pod_pin_ok is True
    assert stop.pod_id_checked is True


def test_undeliverable_order_goes_back_to_the_store(city):
    driver, trip, order = _assigned_trip(city)
    actor = _actor(driver)
    services.trip_confirm_pickup(
        trip_id=trip.id,
        driver_id=driver.id,
        actor=actor,
        location=HERE,
        codes={order.id: order.pickup_code},
    )
    services.trip_stop_undeliverable(
        trip_id=trip.id,
        driver_id=driver.id,
        order_id=order.id,
        reason="Nobody home, no safe place",
        actor=actor,
        location=HERE,
    )
    order.refresh_from_db()
    assert order.status == Order.Status.RETURNING
    services.trip_stop_return(
        trip_id=trip.id, driver_id=driver.id, order_id=order.id, actor=actor, location=HERE
    )
    order.refresh_from_db()
    trip.refresh_from_db()
    assert order.status == Order.Status.RETURNED_TO_STORE
    assert trip.status == Trip.Status.COMPLETED


def test_steps_out_of_order_are_refused(city):
    driver, trip, order = _assigned_trip(city)
    with pytest.raises(InvalidTransition):
        services.trip_stop_deliver(
            trip_id=trip.id,
            driver_id=driver.id,
            order_id=order.id,
            proof=services.Proof(photo=_photo()),
            actor=_actor(driver),
            location=HERE,
        )


def test_another_driver_cannot_work_the_trip(city):
    driver, trip, order = _assigned_trip(city)
    other = online_driver(city[0], lat=36.3)
    with pytest.raises(NotFound):
        services.trip_arrive_at_store(
            trip_id=trip.id, driver_id=other.id, actor=_actor(other), location=HERE
        )


def test_an_order_cancelled_by_the_shop_leaves_its_trip(city):
    driver, trip, order = _assigned_trip(city)
    order_services.order_cancel(order_id=order.id, actor=Actor.system("shop"), reason="oos")
    services.trips_drop_cancelled_orders(market_id=city[0].id)
    trip.refresh_from_db()
    assert trip.status == Trip.Status.CANCELLED
    assert not TripStop.objects.filter(trip=trip, is_active=True).exists()


def test_ops_reassign_puts_the_trip_back_in_the_pool(city):
    driver, trip, order = _assigned_trip(city)
    services.trip_reassign(trip_id=trip.id, actor=Actor.system("ops"), reason="driver stuck")
    trip.refresh_from_db()
    order.refresh_from_db()
    assert trip.status == Trip.Status.POOLED
    assert trip.driver_id is None
    assert order.status == Order.Status.READY_FOR_PICKUP


def test_alcohol_is_never_offered_to_an_under_21_driver(city):
    market, store = city
    young = online_driver(market, is_21_plus=False)
    _ready(store, contains_alcohol=True)
    services.dispatch_round_run(market_id=market.id)
    assert not Offer.objects.filter(driver=young).exists()


def test_a_drivers_minimum_pay_per_mile_is_respected(city):
    market, store = city
    picky = online_driver(market)
    picky.min_pay_cents_per_mile = 100_000
    picky.save(update_fields=["min_pay_cents_per_mile"])
    _ready(store)
    services.dispatch_round_run(market_id=market.id)
    assert not Offer.objects.filter(driver=picky).exists()


def test_two_ready_orders_to_nearby_addresses_are_batched(city):
    market, store = city
    online_driver(market)
    a = _ready(store, external_order_id="A")
    b = _ready(store, external_order_id="B")
    assert a.dropoff_lat == b.dropoff_lat
    services.dispatch_round_run(market_id=market.id)
    offer = Offer.objects.get(status=Offer.Status.OPEN)
    assert len(offer.stops) == 2
    assert offer.extra_stops_cents == 200


def test_orders_show_who_is_bringing_them(city):
    driver, trip, order = _assigned_trip(city)
    order.refresh_from_db()
    assert order.courier_name == driver.user.first_name.split(" ")[0]
    assert order.courier_vehicle
    assert order.pickup_eta
    assert order.dropoff_eta
    services.trip_arrive_at_store(
        trip_id=trip.id, driver_id=driver.id, actor=_actor(driver), location=HERE
    )
    order.refresh_from_db()
    assert (order.courier_lat, order.courier_lng) == (HERE.lat, HERE.lng)
    services.trip_reassign(trip_id=trip.id, actor=Actor.system("ops"), reason="swap")
    order.refresh_from_db()
    assert order.courier_name == ""
    assert order.courier_lat is None


def _picked_up(trip, driver):
    actor = _actor(driver)
    services.trip_arrive_at_store(trip_id=trip.id, driver_id=driver.id, actor=actor, location=HERE)
    services.trip_confirm_pickup(trip_id=trip.id, actor=actor, location=HERE)
    return actor


@pytest.mark.parametrize("batched", [False, True])
def test_at_the_door_every_order_of_the_trip_shows_where_the_driver_is(city, batched):
    """The trip's only order is moved and located by one UPDATE; a batch's others are located
    by a second one, sent in the same round trip (P11)."""
    market, store = city
    driver = online_driver(market)
    orders = [_ready(store, external_order_id=name) for name in ("A", "B")[: 1 + batched]]
    services.dispatch_round_run(market_id=market.id)
    offer = _offer_for(driver)
    services.offer_accept(
        offer_public_id=offer.public_id, driver_id=driver.id, actor=_actor(driver)
    )
    services.trips_sync_assigned()
    trip = Trip.objects.get()
    actor = _picked_up(trip, driver)
    door = Point(orders[0].dropoff_lat, orders[0].dropoff_lng)
    with CaptureQueriesContext(connection) as queries:
        services.trip_stop_arrive(
            trip_id=trip.id, driver_id=driver.id, order_id=orders[0].id, actor=actor, location=door
        )
    sent = [lib_sql.readable(q["sql"]) for q in queries if "SAVEPOINT" not in q["sql"]]
    if connection.vendor == "postgresql":  # (SQLite takes one statement per call)
        assert [sql.split()[0] for sql in sent] == ["SELECT", "SELECT", "UPDATE"]
    parts = [part for sql in sent for part in sql.split("; ")]
    assert len([p for p in parts if p.startswith("UPDATE orders_order")]) == 1 + batched
    for order in orders:
        order.refresh_from_db()
        assert (order.courier_lat, order.courier_lng) == (door.lat, door.lng)
    assert [o.status for o in orders] == [Order.Status.DRIVER_AT_DROPOFF, *["picked_up"] * batched]


def test_a_trip_taken_during_a_reserved_block_counts_towards_it(city):
    from datetime import timedelta as td

    from dispatch.models import Block, BlockReservation

    market, store = city
    driver = online_driver(market)
    now = timezone.now()
    block = Block.objects.create(
        market=market,
        starts_at=now - td(hours=1),
        ends_at=now + td(hours=2),
        guaranteed_pay_cents=6000,
        capacity=2,
        opens_at=now - td(days=1),
        status="open",
    )
    reservation = BlockReservation.objects.create(
        block=block, driver=driver, status="reserved", requested_at=now - td(days=1)
    )
    _ready(store)
    services.dispatch_round_run(market_id=market.id)
    services.offer_accept(
        offer_public_id=_offer_for(driver).public_id, driver_id=driver.id, actor=_actor(driver)
    )
    assert Trip.objects.get().block_reservation_id == reservation.id


def test_each_step_of_a_one_order_trip_is_its_reads_and_one_round_trip_of_writes(city):
    """P11: every trip step locks what it changes (the trip and its stops in one read, then the
    orders), then sends all its writes (the trip's move, the order's move, their events, the
    stop) together; the door checks the proof against the order it locked, with no read of its
    own."""
    driver, trip, order = _assigned_trip(city)
    actor = _actor(driver)
    ids = {"trip_id": trip.id, "driver_id": driver.id, "actor": actor, "location": HERE}
    steps = {
        "at store": lambda: services.trip_arrive_at_store(**ids),
        "pickup": lambda: services.trip_confirm_pickup(**ids, codes={order.id: order.pickup_code}),
        "at door": lambda: services.trip_stop_arrive(**ids, order_id=order.id),
        "deliver": lambda: services.trip_stop_deliver(
            **ids, order_id=order.id, proof=services.Proof(photo=_photo())
        ),
    }
    sent = {}
    for name, step in steps.items():
        with CaptureQueriesContext(connection) as queries:
            step()
        statements = [lib_sql.readable(q["sql"]) for q in queries]
        sent[name] = [s.split()[0] for s in statements if "SAVEPOINT" not in s]
    locks = ["SELECT", "SELECT"]  # the trip with its stops, its orders
    # (at the store, the trip just accepted also looks for work its follow-up sync left)
    assert sent == {name: [*locks, "UPDATE"] for name in steps} | {
        "at store": [*locks, "SELECT", "UPDATE"]
    }
    trip.refresh_from_db()
    order.refresh_from_db()
    assert (trip.status, order.status) == (Trip.Status.COMPLETED, Order.Status.DELIVERED)
    stop = TripStop.objects.get(trip=trip)
    assert stop.status == TripStop.Status.DELIVERED
    assert stop.pod_photo
    assert list(trip.events.values_list("to_status", flat=True).order_by("id"))[-3:] == [
        "at_store",
        "in_progress",
        "completed",
    ]


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_each_step_is_its_locks_then_its_writes_sent_with_the_commit(city, wire):
    """P11: a step's writes are held (spark.lib.postgresql) and go out with its COMMIT: three
    round trips in all, the BEGIN with the first lock (at the store, a trip just accepted also
    looks for work its follow-up sync left: one read more)."""
    driver, trip, order = _assigned_trip(city)
    ids = {"trip_id": trip.id, "driver_id": driver.id, "actor": _actor(driver), "location": HERE}
    steps = {
        "at store": lambda: services.trip_arrive_at_store(**ids),
        "pickup": lambda: services.trip_confirm_pickup(**ids, codes={order.id: order.pickup_code}),
        "at door": lambda: services.trip_stop_arrive(**ids, order_id=order.id),
        "deliver": lambda: services.trip_stop_deliver(
            **ids, order_id=order.id, proof=services.Proof(photo=_photo())
        ),
    }
    for name, step in steps.items():
        wire.clear()
        step()
        sent = wire[: next(i for i, m in enumerate(wire) if m.endswith("; COMMIT")) + 1]
        reads = ["BEGIN;", "SELECT", "SELECT"] if name == "at store" else ["BEGIN;", "SELECT"]
        assert [m.split()[0] for m in sent] == [*reads, "UPDATE"], name
        assert all("FOR UPDATE" in m for m in (sent[0], sent[-2])), name
        assert "INSERT INTO orders_orderevent" in sent[-1], name
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_a_wrong_pickup_code_before_checking_in_moves_nothing(city):
    """Picking up straight from assigned checks the driver in first; a wrong code fails the
    whole step, the check-in included."""
    driver, trip, order = _assigned_trip(city)
    with pytest.raises(Unprocessable, match="pickup code"):
        services.trip_confirm_pickup(
            trip_id=trip.id,
            driver_id=driver.id,
            actor=_actor(driver),
            location=HERE,
            codes={order.id: "WRONG"},
        )
    trip.refresh_from_db()
    order.refresh_from_db()
    assert (trip.status, order.status) == (Trip.Status.ASSIGNED, Order.Status.DRIVER_ASSIGNED)
    assert not trip.events.filter(to_status="at_store").exists()
