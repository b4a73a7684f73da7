"""Holding a ready order for a batch partner that is not ready yet, and who waits when drivers
are scarce."""

import random
from dataclasses import replace

import pytest

from dispatch.engine import EngineConfig, HaversineEta, solve_round
from dispatch.engine.batching import PickupEstimate, orders_to_hold
from tests.dispatch.engine.helpers import NOW, driver, order, random_instance

CONFIG = EngineConfig()
ETA = HaversineEta.from_config(CONFIG)
ESTIMATE = {1: PickupEstimate(km=3.0, seconds=360.0), 2: PickupEstimate(km=3.0, seconds=360.0)}


def _hold(orders, upcoming, config=CONFIG):
    return orders_to_hold(orders, upcoming, now=NOW, config=config, eta=ETA, estimates=ESTIMATE)


def test_a_ready_order_waits_for_an_order_of_its_store_going_the_same_way():
    ready = order(1, drop_xy=(4.0, 0.0), ready_in_s=-60.0)
    soon = order(2, drop_xy=(4.5, 0.5), ready_in_s=120.0)

    result = solve_round([ready], [driver(1)], CONFIG, now=NOW, upcoming=[soon])

    assert result.held == (1,)
    assert result.stats.held == 1
    assert result.assignments == ()
    assert result.unassigned == ()  # held orders are in no trip: the next round sees them again


def test_the_upcoming_order_is_never_offered():
    soon = order(2, drop_xy=(4.5, 0.5), ready_in_s=120.0)
    result = solve_round([], [driver(1)], CONFIG, now=NOW, upcoming=[soon])
    assert result.assignments == ()
    assert result.held == ()


@pytest.mark.parametrize(
    ("ready_in_s", "soon_in_s", "why"),
    [
        (-60.0, CONFIG.hold_horizon_s + 60.0, "the partner is ready too late"),
        (-CONFIG.hold_max_s - 1.0, 60.0, "the ready order has waited long enough"),
    ],
)
def test_no_hold_when(ready_in_s, soon_in_s, why):
    ready = order(1, drop_xy=(4.0, 0.0), ready_in_s=ready_in_s)
    soon = order(2, drop_xy=(4.5, 0.5), ready_in_s=soon_in_s)

    result = solve_round([ready], [driver(1)], CONFIG, now=NOW, upcoming=[soon])

    assert result.held == (), why
    assert [a.trip.order_ids for a in result.assignments] == [(1,)]


def test_no_hold_for_an_order_of_another_store():
    ready = order(1, drop_xy=(4.0, 0.0), ready_in_s=-60.0)
    other_store = order(2, store=2, store_xy=(0.5, 0.0), drop_xy=(4.5, 0.5), ready_in_s=60.0)
    assert _hold([ready], [other_store]) == set()


def test_no_hold_when_waiting_would_break_a_window():
    # alone, a driver 360 s away gets order 1 to its door at ~1100 s: on time. Held, the trip
    # is offered at +200 s, when order 2 is ready, and reaches the door at ~1300 s: late.
    ready = order(1, drop_xy=(4.0, 0.0), ready_in_s=-60.0, window_s=(0.0, 1200.0))
    soon = order(2, drop_xy=(4.5, 0.5), ready_in_s=200.0)
    assert _hold([ready], [soon]) == set()
    assert _hold([replace(ready, dropoff_window_end=NOW + 1500.0)], [soon]) == {1}


def test_no_hold_without_batching_or_when_holding_is_off():
    ready = order(1, drop_xy=(4.0, 0.0), ready_in_s=-60.0)
    soon = order(2, drop_xy=(4.5, 0.5), ready_in_s=120.0)
    alone = solve_round([ready], [driver(1)], CONFIG, batching=False, now=NOW, upcoming=[soon])
    assert alone.held == ()
    assert _hold([ready], [soon], replace(CONFIG, hold_max_s=0.0)) == set()


def test_the_ready_orders_of_one_trip_are_held_together():
    a = order(1, drop_xy=(4.0, 0.0), ready_in_s=-60.0)
    b = order(2, drop_xy=(4.2, -0.3), ready_in_s=-30.0)
    soon = order(3, drop_xy=(4.5, 0.5), ready_in_s=90.0)
    assert _hold([a, b], [soon]) == {1, 2}
    # one of them has waited too long: the trip goes now, without the upcoming order
    old = replace(a, ready_at=NOW - CONFIG.hold_max_s - 5.0)
    assert _hold([old, b], [soon]) == set()


@pytest.mark.parametrize("seed", range(8))
def test_held_orders_are_ready_orders_that_are_in_no_trip(seed):
    rng = random.Random(seed)
    orders, drivers = random_instance(rng, 30, 20)
    ready = [o for o in orders if o.ready_at <= NOW]
    upcoming = [o for o in orders if o.ready_at > NOW]

    result = solve_round(ready, drivers, CONFIG, now=NOW, upcoming=upcoming)

    in_trips = [o.id for a in result.assignments for o in a.trip.orders]
    in_trips += [o.id for t in result.unassigned for o in t.orders]
    assert sorted(in_trips + list(result.held)) == sorted(o.id for o in ready)
    assert set(result.held) <= {o.id for o in ready}


def _one_and_three(*, single_ready_in_s: float) -> list:
    """Store 1: a single order ready `-single_ready_in_s` ago; store 2: three orders ready a
    minute ago that make one trip."""
    single = order(
        1, store=1, store_xy=(0.0, 0.0), drop_xy=(2.0, 0.0), ready_in_s=single_ready_in_s
    )
    three = [
        order(i, store=2, store_xy=(1.0, 0.0), drop_xy=(3.0, 0.2 * i), ready_in_s=-60.0)
        for i in (2, 3, 4)
    ]
    return [single, *three]


def test_a_scarce_driver_takes_the_trip_with_more_orders():
    single, *three = _one_and_three(single_ready_in_s=-900.0)
    one_driver = [driver(1, (0.4, 0.0))]  # a little nearer to store 1

    best = solve_round([single, *three], one_driver, CONFIG, "optimal", now=NOW)
    greedy = solve_round([single, *three], one_driver, CONFIG, "greedy", now=NOW)

    assert [a.trip.order_ids for a in best.assignments] == [(2, 3, 4)]
    assert [a.trip.order_ids for a in greedy.assignments] == [(1,)]  # first in, first served


def test_an_order_waiting_long_past_the_grace_outweighs_a_fresh_trip_of_three():
    # 50 minutes: 1 + (3000 - 900) / 900 = 3.33 orders' worth, more than three fresh ones
    overdue, *three = _one_and_three(single_ready_in_s=-3000.0)
    one_driver = [driver(1, (0.6, 0.0))]  # a little nearer to store 2

    best = solve_round([overdue, *three], one_driver, CONFIG, "optimal", now=NOW)
    assert [a.trip.order_ids for a in best.assignments] == [(1,)]
    # without the waiting weight the three orders go first
    flat = solve_round([overdue, *three], one_driver, replace(CONFIG, waiting_scale_s=0.0), now=NOW)
    assert [a.trip.order_ids for a in flat.assignments] == [(2, 3, 4)]
