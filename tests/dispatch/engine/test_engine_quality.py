"""Optimal vs greedy, and what each cost term prefers."""

import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.engine import EngineConfig, solve_round
from dispatch.engine.cost import expected_lateness
from tests.dispatch.engine.helpers import NOW, driver, order, random_instance, total_cost

CONFIG = EngineConfig()
PICKUP_ONLY = replace(CONFIG, lateness_weight=0.0, fairness_weight_s=0.0, block_bonus_s=0.0)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10**6),
    n_orders=st.integers(1, 25),
    n_drivers=st.integers(1, 25),
    batching=st.booleans(),
)
def test_optimal_is_never_worse_than_greedy_in_total_cost(seed, n_orders, n_drivers, batching):
    orders, drivers = random_instance(random.Random(seed), n_orders, n_drivers)
    best = solve_round(orders, drivers, CONFIG, "optimal", batching, now=NOW)
    greedy = solve_round(orders, drivers, CONFIG, "greedy", batching, now=NOW)

    ours = total_cost([a.cost for a in best.assignments], best.unassigned, CONFIG)
    theirs = total_cost([a.cost for a in greedy.assignments], greedy.unassigned, CONFIG)
    assert ours <= theirs + 1e-6
    # with every order weighing the same, that means never fewer orders served
    flat = replace(CONFIG, waiting_scale_s=0.0)
    best = solve_round(orders, drivers, flat, "optimal", batching, now=NOW)
    greedy = solve_round(orders, drivers, flat, "greedy", batching, now=NOW)
    assert _orders_served(best) >= _orders_served(greedy)


def _orders_served(result):
    return sum(len(a.trip.orders) for a in result.assignments)


@pytest.mark.parametrize("seed", range(10))
def test_optimal_drives_no_more_pickup_km_than_greedy_when_both_serve_everyone(seed):
    orders, drivers = random_instance(random.Random(seed), 40, 50, strict=False)
    best = solve_round(orders, drivers, PICKUP_ONLY, "optimal", False, now=NOW)
    greedy = solve_round(orders, drivers, PICKUP_ONLY, "greedy", False, now=NOW)

    assert len(best.assignments) == len(greedy.assignments) == 40
    ours = sum(a.pickup_km for a in best.assignments)
    assert ours <= sum(a.pickup_km for a in greedy.assignments) + 1e-9


def test_greedy_serves_trips_in_ready_order_with_the_nearest_free_driver():
    first = order(1, ready_in_s=-300)
    second = order(2, ready_in_s=-60)
    drivers = [driver(1, (0.5, 0.0)), driver(2, (3.0, 0.0))]
    result = solve_round([second, first], drivers, CONFIG, "greedy", batching=False, now=NOW)
    by_order = {a.trip.orders[0].id: a.driver_id for a in result.assignments}
    assert by_order == {1: 1, 2: 2}


def test_optimal_swaps_drivers_when_that_shortens_total_pickup():
    # greedy gives A (ready first) the driver between the stores, leaving B a long drive
    a = order(1, store=1, store_xy=(0.0, 0.0), ready_in_s=-300)
    b = order(2, store=2, store_xy=(4.0, 0.0), drop_xy=(6.0, 0.0))
    drivers = [driver(1, (1.5, 0.0)), driver(2, (-2.0, 0.0))]
    best = solve_round([a, b], drivers, PICKUP_ONLY, "optimal", now=NOW)
    greedy = solve_round([a, b], drivers, PICKUP_ONLY, "greedy", now=NOW)
    assert sum(x.pickup_km for x in best.assignments) < sum(x.pickup_km for x in greedy.assignments)


def test_block_driver_gets_the_trip_over_an_equally_near_driver():
    drivers = [driver(1, (1.0, 0.0)), driver(2, (0.0, 1.0), on_block=True)]
    result = solve_round([order(1)], drivers, CONFIG, now=NOW)
    assert result.assignments[0].driver_id == 2
    assert result.assignments[0].terms["block_bonus"] == CONFIG.block_bonus_s


def test_driver_with_fewer_hours_gets_the_trip_over_an_equally_near_driver():
    drivers = [
        driver(1, (1.0, 0.0), hours_this_week=35.0),
        driver(2, (0.0, 1.0), hours_this_week=2.0),
    ]
    result = solve_round([order(1)], drivers, CONFIG, now=NOW)
    assert result.assignments[0].driver_id == 2
    assert result.assignments[0].terms["fairness"] < 0


def test_lateness_risk_grows_with_the_pickup_eta_and_prefers_the_driver_who_is_on_time():
    tight = order(1, window_s=(0.0, 1000.0))
    near = solve_round([tight], [driver(1, (1.0, 0.0))], CONFIG, now=NOW).assignments[0]
    far = solve_round([tight], [driver(2, (6.0, 0.0))], CONFIG, now=NOW).assignments[0]
    assert far.terms["lateness_risk"] > near.terms["lateness_risk"] >= 0.0
    assert far.cost > near.cost


def test_expected_lateness_is_the_normal_positive_part():
    sigma = np.array([60.0, 60.0, 60.0])
    values = expected_lateness(np.array([-600.0, 0.0, 600.0]), sigma)
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert values[1] == pytest.approx(60.0 / np.sqrt(2 * np.pi))
    assert values[2] == pytest.approx(600.0, rel=1e-6)


def test_assignment_reports_terms_that_add_up_to_its_cost():
    result = solve_round(
        [order(1)], [driver(1, on_block=True, hours_this_week=10.0)], CONFIG, now=NOW
    )
    a = result.assignments[0]
    t = a.terms
    assert a.cost == pytest.approx(
        t["pickup_eta_s"] + t["lateness_risk"] + t["fairness"] - t["block_bonus"]
    )
    assert a.rank == 1
    assert a.pickup_at == pytest.approx(NOW + t["pickup_eta_s"])
