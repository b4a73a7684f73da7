"""solve_round's contract: edge cases, determinism, stats and output shape."""

import random

import pytest

from dispatch.engine import EngineConfig, solve_round
from tests.dispatch.engine.helpers import NOW, driver, order, random_instance

CONFIG = EngineConfig()


@pytest.mark.parametrize("policy", ["optimal", "greedy"])
def test_solve_round_with_no_orders_returns_nothing(policy):
    result = solve_round([], [driver(1)], CONFIG, policy, now=NOW)
    assert result.assignments == ()
    assert result.unassigned == ()
    assert result.stats.trips == 0


@pytest.mark.parametrize("policy", ["optimal", "greedy"])
def test_solve_round_with_no_drivers_leaves_every_trip_unassigned(policy):
    orders = [order(1), order(2, store=2, store_xy=(5.0, 0.0))]
    result = solve_round(orders, [], CONFIG, policy, now=NOW)
    assert result.assignments == ()
    assert result.unassigned_keys == ("1:1", "2:2")
    assert result.stats.candidate_arcs == 0


def test_solve_round_with_neither_orders_nor_drivers():
    result = solve_round([], [], now=NOW)
    assert result.assignments == ()
    assert result.unassigned == ()


def test_solve_round_rejects_an_unknown_policy():
    with pytest.raises(ValueError, match="unknown policy"):
        solve_round([order(1)], [driver(1)], CONFIG, "fastest", now=NOW)  # type: ignore[arg-type]


def test_solve_round_is_deterministic():
    orders, drivers = random_instance(random.Random(8), 30, 25)
    first = solve_round(orders, drivers, CONFIG, now=NOW)
    second = solve_round(list(orders), list(drivers), CONFIG, now=NOW)
    assert [(a.trip.key, a.driver_id) for a in first.assignments] == [
        (a.trip.key, a.driver_id) for a in second.assignments
    ]
    assert first.unassigned_keys == second.unassigned_keys


def test_solve_round_gives_each_driver_at_most_one_trip_when_drivers_are_scarce():
    orders = [order(i, store=i, store_xy=(i * 0.5, 0.0)) for i in range(1, 6)]
    result = solve_round(orders, [driver(1), driver(2, (2.0, 0.0))], CONFIG, now=NOW)
    assert len(result.assignments) == 2
    assert len(result.unassigned) == 3
    assert {a.driver_id for a in result.assignments} == {1, 2}


def test_solve_round_reports_stats_and_engaged_pay_per_mile():
    result = solve_round([order(1, pay_cents=900)], [driver(1, (1.0, 0.0))], CONFIG, now=NOW)
    stats = result.stats
    assert (stats.policy, stats.orders, stats.drivers, stats.trips) == ("optimal", 1, 1, 1)
    assert stats.candidate_arcs >= 1
    assert stats.total_ms >= stats.solve_ms >= 0.0
    a = result.assignments[0]
    assert a.pay_cents_per_mile == pytest.approx(900 / (a.engaged_km / 1.609344))
    assert len(a.dropoff_at) == 1
    assert a.dropoff_at[0] > a.pickup_at


def test_solve_round_serves_an_order_that_becomes_ready_before_the_driver_arrives():
    soon = order(1, ready_in_s=120.0)
    result = solve_round([soon], [driver(1, (5.0, 0.0))], CONFIG, now=NOW)
    a = result.assignments[0]
    assert a.pickup_at > soon.ready_at  # the driver arrives after the order is packed
