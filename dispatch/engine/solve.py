"""One dispatch round: trips from ready orders, candidate drivers, costs, and the assignment.

    solve_round(orders, drivers, config) -> RoundResult

1. Index the drivers (KD-tree) and estimate each store's pickup drive from its nearest drivers.
2. Batch each store's orders into trips (batching.py) unless `batching=False`; caller-formed
   `trips` (e.g. re-offers with boosted pay) join as they are, their stop order optimised. Given
   the orders that are not ready yet (`upcoming`), a ready order that would share a trip with
   one of them soon is held back for a round or more (batching.orders_to_hold).
3. "optimal": candidate arcs (candidates.py) plus the greedy solution's arcs, costs (cost.py),
   and a min-cost matching with an unassigned option (assign.py). In a tight market (at least
   `refine_min_load` trips per driver) drivers also get arcs to their nearest stores, and column
   generation adds every arc with a negative reduced cost under the matching's dual prices, so
   the result is the optimum over all eligible pairs in its candidate pool.
   "greedy": the FIFO nearest-driver baseline (greedy.py), with the same output.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from dispatch.engine.assign import dual_potentials, match_min_cost, ranks_within_rows
from dispatch.engine.batching import (
    PickupEstimate,
    build_trips,
    group_by_store,
    orders_to_hold,
    plan_trip,
)
from dispatch.engine.candidates import (
    Arcs,
    DriverArrays,
    DriverIndex,
    TripArrays,
    candidate_arcs,
    reverse_arcs,
)
from dispatch.engine.cost import ArcCosts, arc_costs, unassigned_costs
from dispatch.engine.geo import EtaModel, HaversineEta
from dispatch.engine.greedy import greedy_assign
from dispatch.engine.insertion import InsertionSolver
from dispatch.engine.routing import PyVRPSolver, RouteSolver
from dispatch.engine.types import (
    Assignment,
    DriverIn,
    EngineConfig,
    OrderIn,
    Policy,
    RoundResult,
    RoundStats,
    TripIn,
    TripPlan,
)


def solve_round(
    orders: Sequence[OrderIn],
    drivers: Sequence[DriverIn],
    config: EngineConfig | None = None,
    policy: Policy = "optimal",
    batching: bool = True,
    *,
    now: float | None = None,
    trips: Sequence[TripIn] = (),
    eta: EtaModel | None = None,
    route_solver: RouteSolver | None = None,
    upcoming: Sequence[OrderIn] = (),
) -> RoundResult:
    """Assign this round's ready orders (and caller-formed trips) to available drivers.

    `now` defaults to the wall clock; pass it for reproducible results. Orders that are part of
    a caller-formed trip are taken out of `orders`. `upcoming` are orders that are not ready
    yet: they are never offered, only waited for (RoundResult.held).
    """
    if policy not in ("optimal", "greedy"):
        raise ValueError(f"unknown policy {policy!r}")
    started = time.perf_counter()
    config = config or EngineConfig()
    eta = eta or HaversineEta.from_config(config)
    now = time.time() if now is None else now
    driver_arrays = DriverArrays.build(drivers, config)
    index = DriverIndex(driver_arrays, eta)
    formed = {o.id for trip in trips for o in trip.orders}  # never offer an order twice
    orders = [o for o in orders if o.id not in formed] if formed else orders
    estimates = pickup_estimates(orders, index, config)
    solver = route_solver or _default_solver(config)
    held: set[int] = set()
    if batching and upcoming:
        held = orders_to_hold(
            orders, upcoming, now=now, config=config, eta=eta, solver=solver, estimates=estimates
        )
    plans = build_trips(
        [o for o in orders if o.id not in held] if held else orders,
        now=now,
        config=config,
        eta=eta,
        solver=solver,
        estimates=estimates,
        batching=batching,
    )
    plans += [
        plan_trip(t, now=now, config=config, eta=eta, estimate=estimates.get(t.orders[0].store_id))
        for t in trips
        if t.orders
    ]
    batched = time.perf_counter()
    trip_arrays = TripArrays.build(plans, config)
    if policy == "greedy":
        arcs, ranks, n_arcs = _greedy(trip_arrays, index)
    else:
        arcs, ranks, n_arcs = _optimal(trip_arrays, index, now=now, config=config)
    costs = arc_costs(trip_arrays, driver_arrays, arcs, now=now, config=config)
    result = _result(plans, driver_arrays, arcs, costs, ranks)
    done = time.perf_counter()
    stats = RoundStats(
        policy=policy,
        orders=len(orders),
        drivers=len(drivers),
        trips=len(plans),
        candidate_arcs=n_arcs,
        batching_ms=(batched - started) * 1000.0,
        solve_ms=(done - batched) * 1000.0,
        total_ms=(done - started) * 1000.0,
        held=len(held),
    )
    return RoundResult(
        assignments=result[0], unassigned=result[1], stats=stats, held=tuple(sorted(held))
    )


def _default_solver(config: EngineConfig) -> RouteSolver:
    if config.route_solver == "pyvrp":
        return PyVRPSolver(time_limit_s=config.pyvrp_time_limit_s, seed=config.seed)
    return InsertionSolver()


def pickup_estimates(
    orders: Sequence[OrderIn], index: DriverIndex, config: EngineConfig
) -> dict[int, PickupEstimate]:
    """Per store: km = mean road km of the k nearest drivers (the saving of one trip fewer);
    seconds = the ETA of the n-th nearest driver for a store with n ready orders, so that batch
    windows are checked against a driver who may not be the closest one."""
    groups = group_by_store(orders)
    if not groups or len(index.drivers) == 0:
        return {}
    stores = list(groups)
    lat = np.array([groups[s][0].pickup_lat for s in stores])
    lng = np.array([groups[s][0].pickup_lng for s in stores])
    counts = np.array([len(groups[s]) for s in stores])
    k = max(config.k_nearest, int(counts.max()))
    _, km, secs = index.nearest(lat, lng, k)
    estimates: dict[int, PickupEstimate] = {}
    for row, store in enumerate(stores):
        near = km[row, : config.k_nearest]
        near = near[np.isfinite(near)]
        reach = secs[row, : counts[row]]
        reach = reach[np.isfinite(reach)]
        if len(near):
            estimates[store] = PickupEstimate(km=float(near.mean()), seconds=float(reach.max()))
    return estimates


def _optimal(
    trips: TripArrays, index: DriverIndex, *, now: float, config: EngineConfig
) -> tuple[Arcs, np.ndarray, int]:
    n_trips, n_drivers = len(trips), len(index.drivers)
    k_trip = np.minimum(config.k_nearest + trips.trips_at_store - 1, n_drivers)
    arcs = candidate_arcs(trips, index, np.arange(n_trips, dtype=np.int64), k_trip)
    # With drivers to spare the nearest-driver lists already hold the optimum (PERFORMANCE.md
    # P3). In a tight market they don't: far drivers must serve someone, so each driver also
    # gets arcs to its nearest stores, and column generation prices in the arcs still missing.
    tight = n_trips >= config.refine_min_load * n_drivers
    if tight and config.reverse_stores_k > 0:
        everyone = np.arange(n_drivers, dtype=np.int64)
        arcs = arcs.concat(
            reverse_arcs(trips, index, everyone, config.reverse_stores_k, config.reverse_per_store)
        )
    if config.greedy_arcs:
        # the greedy solution is a feasible matching inside the graph: never worse than greedy
        arcs = arcs.concat(greedy_assign(trips, index, _fifo_order(trips))[0])
    costs = arc_costs(trips, index.drivers, arcs, now=now, config=config)
    matched = _match(trips, index, arcs, costs, now, config)
    if tight:
        arcs, costs, matched = _price_and_resolve(trips, index, arcs, costs, matched, now, config)
    ranks = ranks_within_rows(arcs.trip, costs.total)
    chosen = np.flatnonzero(matched[arcs.trip] == arcs.driver)
    return _take(arcs, chosen), ranks[chosen], len(arcs)


def _price_and_resolve(
    trips: TripArrays,
    index: DriverIndex,
    arcs: Arcs,
    costs: ArcCosts,
    matched: np.ndarray,
    now: float,
    config: EngineConfig,
) -> tuple[Arcs, ArcCosts, np.ndarray]:
    """Column generation: add the arcs whose reduced cost under the matching's dual prices is
    negative, from wider candidate lists (the pool), and solve again, until none is left (the
    matching is then optimal over every eligible pair in the pool) or the passes run out."""
    n_trips, n_drivers = len(trips), len(index.drivers)
    k_pool = np.minimum(
        (config.k_nearest + trips.trips_at_store - 1) * config.expand_factor, n_drivers
    )
    everyone = np.arange(n_trips, dtype=np.int64)
    pool = candidate_arcs(trips, index, everyone, k_pool)
    pool_costs = arc_costs(trips, index.drivers, pool, now=now, config=config)
    # no driver costs less than his pickup ETA minus the largest fairness and block discounts
    discount = config.fairness_weight_s + config.block_bonus_s
    left_out = unassigned_costs(trips, now=now, config=config)
    for _ in range(config.refine_passes):
        u, v = dual_potentials(
            n_trips, n_drivers, arcs.trip, arcs.driver, costs.total, left_out, matched
        )
        improving = np.flatnonzero(pool_costs.total - u[pool.trip] - v[pool.driver] < -1e-6)
        # a full list whose farthest driver is still cheap enough may hide improving arcs
        far = np.zeros(n_trips)
        np.maximum.at(far, pool.trip, pool.pickup_s)
        full = np.bincount(pool.trip, minlength=n_trips) >= k_pool
        truncated = np.flatnonzero(full & (k_pool < n_drivers) & (far - discount < u))
        if len(improving) == 0 and len(truncated) == 0:
            break
        if len(improving):
            arcs = arcs.concat(_take(pool, improving))
            costs = arc_costs(trips, index.drivers, arcs, now=now, config=config)
            matched = _match(trips, index, arcs, costs, now, config)
        if len(truncated):
            k_pool[truncated] = np.minimum(k_pool[truncated] * 2, n_drivers)
            pool = pool.concat(candidate_arcs(trips, index, truncated, k_pool[truncated]))
            pool_costs = arc_costs(trips, index.drivers, pool, now=now, config=config)
    return arcs, costs, matched


def _match(
    trips: TripArrays,
    index: DriverIndex,
    arcs: Arcs,
    costs: ArcCosts,
    now: float,
    config: EngineConfig,
) -> np.ndarray:
    n_trips, n_drivers = len(trips), len(index.drivers)
    penalty = unassigned_costs(trips, now=now, config=config)
    return match_min_cost(
        n_trips, n_drivers, arcs.trip, arcs.driver, costs.total, penalty, assume_unique=True
    )


def _fifo_order(trips: TripArrays) -> np.ndarray:
    return np.lexsort((np.arange(len(trips)), trips.ready_at)).astype(np.int64)


def _greedy(trips: TripArrays, index: DriverIndex) -> tuple[Arcs, np.ndarray, int]:
    arcs, ranks = greedy_assign(trips, index, _fifo_order(trips))
    return arcs, ranks, len(arcs)


def _take(arcs: Arcs, idx: np.ndarray) -> Arcs:
    return Arcs(
        trip=arcs.trip[idx],
        driver=arcs.driver[idx],
        pickup_km=arcs.pickup_km[idx],
        pickup_s=arcs.pickup_s[idx],
    )


def _result(
    plans: Sequence[TripPlan],
    drivers: DriverArrays,
    arcs: Arcs,
    costs: ArcCosts,
    ranks: np.ndarray,
) -> tuple[tuple[Assignment, ...], tuple[TripPlan, ...]]:
    assignments = []
    service = costs.service_at.tolist()
    for i, (t, d) in enumerate(zip(arcs.trip.tolist(), arcs.driver.tolist(), strict=True)):
        plan = plans[t]
        pickup_km = float(arcs.pickup_km[i])
        assignments.append(
            Assignment(
                trip=plan,
                driver_id=int(drivers.ids[d]),
                cost=float(costs.total[i]),
                terms=costs.terms(i),
                rank=int(ranks[i]),
                pickup_km=pickup_km,
                engaged_km=pickup_km + plan.route_km,
                pickup_at=float(costs.pickup_at[i]),
                dropoff_at=tuple(service[i][: len(plan.orders)]),
            )
        )
    served = set(arcs.trip.tolist())
    unassigned = tuple(plan for t, plan in enumerate(plans) if t not in served)
    assignments.sort(key=lambda a: a.trip.key)
    return tuple(assignments), unassigned
