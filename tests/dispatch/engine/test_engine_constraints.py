"""Hard constraints are never violated, by either policy, with or without batching."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.engine import EngineConfig, solve_round
from tests.dispatch.engine.helpers import NOW, assignment_violations, driver, order, random_instance

CONFIG = EngineConfig()
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(
    seed=st.integers(0, 10**6),
    n_orders=st.integers(0, 14),
    n_drivers=st.integers(0, 10),
    policy=st.sampled_from(["optimal", "greedy"]),
    batching=st.booleans(),
)
def test_solve_round_never_violates_a_hard_constraint(seed, n_orders, n_drivers, policy, batching):
    orders, drivers = random_instance(random.Random(seed), n_orders, n_drivers)
    by_id = {d.id: d for d in drivers}

    result = solve_round(orders, drivers, CONFIG, policy, batching, now=NOW)

    for a in result.assignments:
        assert assignment_violations(a.trip, by_id[a.driver_id], a.pickup_km, CONFIG) == []
        assert a.engaged_km == pytest.approx(a.pickup_km + a.trip.route_km)
    drivers_used = [a.driver_id for a in result.assignments]
    assert len(drivers_used) == len(set(drivers_used))
    served = [o.id for a in result.assignments for o in a.trip.orders]
    waiting = [o.id for t in result.unassigned for o in t.orders]
    assert sorted(served + waiting) == sorted(o.id for o in orders)


def test_assign_never_gives_alcohol_to_under_21_driver():
    beer = order(1, alcohol=True)
    result = solve_round([beer], [driver(1, is_21_plus=False)], CONFIG, now=NOW)
    assert result.assignments == ()
    assert result.unassigned_keys == ("1:1",)


def test_assign_never_gives_alcohol_to_driver_who_opted_out():
    beer = order(1, alcohol=True)
    drivers = [driver(1, (0.2, 0.0), no_alcohol=True), driver(2, (3.0, 0.0))]
    result = solve_round([beer], drivers, CONFIG, now=NOW)
    assert [a.driver_id for a in result.assignments] == [2]


def test_assign_skips_driver_whose_vehicle_is_too_small():
    bulky = order(1, size=8)
    drivers = [driver(1, (0.1, 0.0), capacity_units=4), driver(2, (4.0, 0.0), capacity_units=10)]
    result = solve_round([bulky], drivers, CONFIG, now=NOW)
    assert [a.driver_id for a in result.assignments] == [2]


def test_assign_respects_driver_max_pickup_km():
    result = solve_round([order(1)], [driver(1, (6.0, 0.0), max_pickup_km=5.0)], CONFIG, now=NOW)
    assert result.assignments == ()


def test_assign_uses_config_max_pickup_km_for_drivers_without_their_own():
    config = EngineConfig(max_pickup_km=3.0)
    far, near = driver(1, (5.0, 0.0)), driver(2, (2.0, 0.0))
    assert solve_round([order(1)], [far], config, now=NOW).assignments == ()
    assert [a.driver_id for a in solve_round([order(1)], [near], config, now=NOW).assignments] == [
        2
    ]


def test_assign_respects_driver_minimum_pay_per_mile_over_engaged_miles():
    # 2 km to the drop-off x 1.3 detour, plus the drive to the store: about 600 cents a mile
    cheap = order(1, pay_cents=1000)
    picky = driver(1, (5.0, 0.0), min_pay_cents_per_mile=300)  # ~6.5 km to the store
    fine = driver(2, (6.0, 0.0), min_pay_cents_per_mile=100)
    result = solve_round([cheap], [picky, fine], CONFIG, now=NOW)
    assert [a.driver_id for a in result.assignments] == [2]
    assert result.assignments[0].pay_cents_per_mile >= 100


@pytest.mark.parametrize("policy", ["optimal", "greedy"])
def test_trip_with_no_eligible_driver_is_unassigned(policy):
    orders = [order(1, alcohol=True), order(2, store=2, store_xy=(30.0, 0.0))]
    drivers = [driver(1, (0.5, 0.0), is_21_plus=False), driver(2, (0.5, 0.5), no_alcohol=True)]
    result = solve_round(orders, drivers, CONFIG, policy, batching=False, now=NOW)
    assert result.unassigned_keys == ("1:1", "2:2")
