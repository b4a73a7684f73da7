"""Small seeded instances for the engine tests (no database, no Django)."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence

from dispatch.engine import DriverIn, EngineConfig, OrderIn, TripPlan
from dispatch.engine.types import KM_PER_MILE

NOW = 1_750_000_000.0
LAT0, LNG0 = 36.37, -94.21
KM_PER_DEG = 111.195


def at(x_km: float, y_km: float) -> tuple[float, float]:
    """A point x km east and y km north of the test city's centre."""
    return LAT0 + y_km / KM_PER_DEG, LNG0 + x_km / (KM_PER_DEG * math.cos(math.radians(LAT0)))


def order(
    oid: int,
    *,
    store: int = 1,
    store_xy: tuple[float, float] = (0.0, 0.0),
    drop_xy: tuple[float, float] = (2.0, 0.0),
    ready_in_s: float = 0.0,
    window_s: tuple[float, float] = (0.0, 7200.0),
    pay_cents: int = 800,
    size: int = 1,
    alcohol: bool = False,
) -> OrderIn:
    p_lat, p_lng = at(*store_xy)
    d_lat, d_lng = at(*drop_xy)
    return OrderIn(
        id=oid,
        store_id=store,
        pickup_lat=p_lat,
        pickup_lng=p_lng,
        dropoff_lat=d_lat,
        dropoff_lng=d_lng,
        ready_at=NOW + ready_in_s,
        dropoff_window_start=NOW + window_s[0],
        dropoff_window_end=NOW + window_s[1],
        pay_cents=pay_cents,
        size_units=size,
        contains_alcohol=alcohol,
    )


def driver(did: int, xy: tuple[float, float] = (1.0, 0.0), **fields: object) -> DriverIn:
    lat, lng = at(*xy)
    base: dict[str, object] = {"is_21_plus": True, "capacity_units": 20}
    base.update(fields)
    return DriverIn(id=did, lat=lat, lng=lng, **base)  # type: ignore[arg-type]


def random_instance(
    rng: random.Random,
    n_orders: int,
    n_drivers: int,
    *,
    n_stores: int = 3,
    spread_km: float = 6.0,
    strict: bool = True,
) -> tuple[list[OrderIn], list[DriverIn]]:
    """Orders at a few stores and drivers around them; `strict` mixes in every preference."""
    stores = [
        (rng.uniform(-spread_km, spread_km), rng.uniform(-spread_km, spread_km))
        for _ in range(n_stores)
    ]
    orders = []
    for i in range(n_orders):
        s = rng.randrange(n_stores)
        sx, sy = stores[s]
        ready = rng.uniform(-600, 600)
        start = ready + rng.uniform(0, 1200)
        orders.append(
            order(
                i + 1,
                store=s + 1,
                store_xy=(sx, sy),
                drop_xy=(sx + rng.uniform(-5, 5), sy + rng.uniform(-5, 5)),
                ready_in_s=ready,
                window_s=(start, start + rng.choice([1800, 3600, 7200])),
                pay_cents=rng.randint(300, 1500),
                size=rng.choice([1, 1, 2, 3, 6]) if strict else 1,
                alcohol=strict and rng.random() < 0.25,
            )
        )
    drivers = [
        driver(
            j + 1,
            (
                rng.uniform(-spread_km - 3, spread_km + 3),
                rng.uniform(-spread_km - 3, spread_km + 3),
            ),
            is_21_plus=not strict or rng.random() < 0.7,
            no_alcohol=strict and rng.random() < 0.2,
            max_pickup_km=rng.choice([None, 4.0, 8.0, 30.0]) if strict else 100.0,
            min_pay_cents_per_mile=rng.choice([0, 0, 100, 300]) if strict else 0,
            capacity_units=rng.choice([2, 4, 20]) if strict else 20,
            hours_this_week=rng.uniform(0, 50),
            on_block=rng.random() < 0.2,
        )
        for j in range(n_drivers)
    ]
    return orders, drivers


def assignment_violations(
    trip: TripPlan, d: DriverIn, pickup_km: float, config: EngineConfig
) -> list[str]:
    """The hard constraints an assignment of `trip` to `d` breaks (empty: none)."""
    broken = []
    limit = config.max_pickup_km if d.max_pickup_km is None else d.max_pickup_km
    if pickup_km > limit + 1e-9:
        broken.append("max pickup km")
    miles = (pickup_km + trip.route_km) / KM_PER_MILE
    if trip.pay_cents < d.min_pay_cents_per_mile * miles - 1e-6:
        broken.append("min pay per mile")
    if trip.contains_alcohol and not d.is_21_plus:
        broken.append("alcohol to under 21")
    if trip.contains_alcohol and d.no_alcohol:
        broken.append("alcohol to a no-alcohol driver")
    if trip.size_units > d.capacity_units:
        broken.append("capacity")
    return broken


def brute_force_min_cost(
    n_rows: int,
    n_cols: int,
    arcs: dict[tuple[int, int], float],
    unassigned_cost: float | Sequence[float],
) -> float:
    """Cheapest partial assignment by enumeration: every subset of rows x every ordering of
    distinct columns, each row left out costing `unassigned_cost` (or its own entry of it)."""
    left = (
        [float(unassigned_cost)] * n_rows
        if isinstance(unassigned_cost, int | float)
        else [float(c) for c in unassigned_cost]
    )
    best = sum(left)
    for r in range(1, min(n_rows, n_cols) + 1):
        for rows in itertools.combinations(range(n_rows), r):
            for cols in itertools.permutations(range(n_cols), r):
                cost = sum(left) - sum(left[row] for row in rows)
                for row, col in zip(rows, cols, strict=True):
                    arc = arcs.get((row, col))
                    if arc is None:
                        break
                    cost += arc
                else:
                    best = min(best, cost)
    return best


def total_cost(costs: Sequence[float], left: Sequence[TripPlan], config: EngineConfig) -> float:
    """The matcher's objective at NOW: arc costs plus the penalty for each order left waiting,
    more for an order that has waited beyond the grace."""
    grace, scale = config.waiting_grace_s, config.waiting_scale_s
    overdue = [max(0.0, NOW - o.ready_at - grace) for trip in left for o in trip.orders]
    weight = len(overdue) + (sum(overdue) / scale if scale > 0 else 0.0)
    return sum(costs) + weight * config.unassigned_penalty_s
