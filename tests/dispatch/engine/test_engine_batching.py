"""Trips from a store's ready orders: windows kept, km never above singles, best stop order."""

import itertools
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.engine import EngineConfig, HaversineEta, TripIn, build_trips, plan_trip, solve_round
from dispatch.engine.batching import PickupEstimate, store_problem
from tests.dispatch.engine.helpers import NOW, driver, order, random_instance

CONFIG = EngineConfig()
ETA = HaversineEta.from_config(CONFIG)
ESTIMATE = PickupEstimate(km=2.0, seconds=300.0)


def _trips(orders, **kwargs):
    return build_trips(
        orders, now=NOW, config=CONFIG, eta=ETA, estimates={1: ESTIMATE, 2: ESTIMATE}, **kwargs
    )


def _burst(rng, n):
    return [
        order(
            i + 1,
            drop_xy=(rng.uniform(-6, 6), rng.uniform(-6, 6)),
            ready_in_s=rng.uniform(-300, 300),
            window_s=(0.0, rng.choice([2400.0, 3600.0, 7200.0])),
            size=rng.choice([1, 2, 3]),
        )
        for i in range(n)
    ]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 16))
def test_batching_keeps_every_window_and_never_adds_driver_km(seed, n):
    orders = _burst(random.Random(seed), n)
    trips = _trips(orders)
    singles = _trips(orders, batching=False)

    for trip in trips:
        assert len(trip.orders) <= CONFIG.max_stops_per_trip
        if len(trip.orders) > 1:
            assert trip.size_units <= CONFIG.batch_capacity_units
            for stop, o in zip(trip.stops, trip.orders, strict=True):
                assert stop.eta_at <= o.dropoff_window_end + 1e-6
    batched_km = sum(ESTIMATE.km + t.route_km for t in trips)
    assert batched_km <= sum(ESTIMATE.km + t.route_km for t in singles) + 1e-9
    assert sorted(o.id for t in trips for o in t.orders) == sorted(o.id for o in orders)


def test_batching_groups_nearby_drop_offs_into_one_trip_with_the_shortest_stop_order():
    orders = [
        order(1, drop_xy=(3.0, 0.0)),
        order(2, drop_xy=(2.0, 0.2)),
        order(3, drop_xy=(1.0, 0.0)),
    ]
    [trip] = _trips(orders)
    assert [o.id for o in trip.orders] == [3, 2, 1]
    problem = store_problem(orders, now=NOW, config=CONFIG, eta=ETA, estimate=ESTIMATE)
    perms = np.array(list(itertools.permutations(range(3))))
    km, ok, _ = problem.evaluate(perms)
    assert trip.route_km == pytest.approx(km[ok].min())


def test_batching_never_mixes_stores():
    orders = [order(1, store=1), order(2, store=2, store_xy=(0.1, 0.0))]
    assert sorted(len(t.orders) for t in _trips(orders)) == [1, 1]


def test_batching_does_not_batch_orders_whose_windows_cannot_both_hold():
    # each one is on time alone, but whichever goes second would be late
    east = order(1, drop_xy=(8.0, 0.0), window_s=(0.0, 1900.0))
    west = order(2, drop_xy=(-8.0, 0.0), window_s=(0.0, 1900.0))
    assert sorted(len(t.orders) for t in _trips([east, west])) == [1, 1]


def test_batching_waits_for_a_window_to_open_and_still_checks_the_later_stops():
    early = order(1, drop_xy=(2.0, 0.0), window_s=(3000.0, 3600.0))
    after = order(2, drop_xy=(2.5, 0.0), window_s=(0.0, 3100.0))
    trips = _trips([early, after])
    for trip in trips:
        for stop, o in zip(trip.stops, trip.orders, strict=True):
            assert o.dropoff_window_start - 1e-6 <= stop.eta_at <= o.dropoff_window_end + 1e-6


def test_batching_keeps_an_order_that_is_late_even_alone_single():
    late = order(1, drop_xy=(2.0, 0.0), window_s=(0.0, 60.0))
    fine = order(2, drop_xy=(2.1, 0.0))
    assert sorted(len(t.orders) for t in _trips([late, fine])) == [1, 1]


def test_batching_respects_capacity_and_max_stops():
    orders = [order(i, drop_xy=(2.0 + 0.01 * i, 0.0), size=4) for i in range(1, 7)]
    trips = _trips(orders)
    assert all(t.size_units <= CONFIG.batch_capacity_units for t in trips if len(t.orders) > 1)
    assert max(len(t.orders) for t in trips) == 2  # three orders of 4 units exceed 10 units


def test_batching_off_gives_one_trip_per_order():
    orders = _burst(random.Random(3), 9)
    trips = _trips(orders, batching=False)
    assert len(trips) == 9
    assert all(len(t.orders) == 1 for t in trips)


def test_trip_plan_reports_pay_size_alcohol_key_and_timing():
    orders = [
        order(7, drop_xy=(1.0, 0.0), pay_cents=500, alcohol=True),
        order(3, drop_xy=(1.2, 0.0), pay_cents=650, size=2),
    ]
    [trip] = _trips(orders)
    assert trip.key == "1:3-7"
    assert trip.pay_cents == 1150
    assert trip.size_units == 3
    assert trip.contains_alcohol
    assert trip.departs_at == pytest.approx(NOW + ESTIMATE.seconds + CONFIG.handoff_pickup_s)
    assert trip.stops[-1].eta_at + CONFIG.handoff_dropoff_s == pytest.approx(
        trip.departs_at + trip.route_s
    )
    assert sum(s.leg_km for s in trip.stops) == pytest.approx(trip.route_km)


def test_plan_trip_orders_a_caller_formed_trip_and_keeps_its_boosted_pay():
    orders = (order(1, drop_xy=(3.0, 0.0)), order(2, drop_xy=(1.0, 0.0)))
    plan = plan_trip(TripIn(orders=orders, pay_cents=2500), now=NOW, config=CONFIG, eta=ETA)
    assert [o.id for o in plan.orders] == [2, 1]
    assert plan.pay_cents == 2500


def test_plan_trip_rejects_orders_from_two_stores():
    with pytest.raises(ValueError, match="one store"):
        plan_trip(TripIn(orders=(order(1), order(2, store=2))), now=NOW, config=CONFIG, eta=ETA)


def test_solve_round_with_batching_serves_a_burst_with_fewer_driver_km():
    rng = random.Random(11)
    orders = _burst(rng, 30)
    drivers = [driver(j, (rng.uniform(-8, 8), rng.uniform(-8, 8))) for j in range(1, 61)]
    batched = solve_round(orders, drivers, CONFIG, batching=True, now=NOW)
    alone = solve_round(orders, drivers, CONFIG, batching=False, now=NOW)
    assert not batched.unassigned
    assert not alone.unassigned
    assert sum(a.engaged_km for a in batched.assignments) < 0.8 * sum(
        a.engaged_km for a in alone.assignments
    )


def test_solve_round_accepts_caller_formed_trips_next_to_ready_orders():
    formed = TripIn(orders=(order(10, store=2, store_xy=(1.0, 1.0)),), pay_cents=1200)
    orders, drivers = random_instance(random.Random(5), 5, 8, strict=False)
    result = solve_round(orders, drivers, CONFIG, trips=[formed], now=NOW)
    keys = [a.trip.key for a in result.assignments] + list(result.unassigned_keys)
    assert "2:10" in keys
