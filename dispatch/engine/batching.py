"""Group a store's ready orders into trips of up to N drop-offs, or keep them single.

Per store the orders become a `RoutingProblem` (see routing.py) solved by a `RouteSolver`. A batch
is kept only when
  1. every drop-off is served inside its window, checked with the ETA model, leaving the store at
     max(now + pickup ETA estimate, latest ready_at) + pickup hand-off, and
  2. its driver-km is below the sum of its orders as single trips, each trip counting the drive to
     the store (`PickupEstimate.km`, the mean road km of the nearest drivers) plus its route km;
otherwise its orders go out as single trips. The stop order of every batch is the shortest feasible
permutation. An order that is late even when delivered alone is never batched.

Holding (`orders_to_hold`): orders of a store rarely become ready in the same round, so a round
that only batches what is ready sends most orders alone. Given the orders that are not ready yet
(`upcoming`), a ready order that would share a trip that pays with one of them, ready within
`hold_horizon_s`, waits for it, but never longer than `hold_max_s` after it was ready itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from dispatch.engine.geo import EtaModel, LocalProjection
from dispatch.engine.insertion import InsertionSolver
from dispatch.engine.routing import (
    ProblemSet,
    Route,
    RouteSolver,
    RoutingProblem,
    best_orders,
    keep_routes_that_pay,
    solve_all,
)
from dispatch.engine.types import EngineConfig, OrderIn, Stop, TripIn, TripPlan


@dataclass(frozen=True, slots=True)
class PickupEstimate:
    """A typical driver's drive to a store: km for the batching saving, seconds for windows."""

    km: float
    seconds: float


def default_pickup_estimate(config: EngineConfig) -> PickupEstimate:
    km = config.batch_pickup_km if config.batch_pickup_km is not None else 2.0
    return PickupEstimate(km=km, seconds=km / config.speed_kmh * 3600.0)


def trip_key(store_id: int, order_ids: Iterable[int]) -> str:
    return f"{store_id}:" + "-".join(str(i) for i in sorted(order_ids))


def group_by_store(orders: Iterable[OrderIn]) -> dict[int, list[OrderIn]]:
    groups: dict[int, list[OrderIn]] = defaultdict(list)
    for order in orders:
        groups[order.store_id].append(order)
    return dict(groups)


def build_trips(
    orders: Sequence[OrderIn],
    *,
    now: float,
    config: EngineConfig,
    eta: EtaModel,
    solver: RouteSolver | None = None,
    estimates: Mapping[int, PickupEstimate] | None = None,
    batching: bool = True,
) -> list[TripPlan]:
    """Trips for all stores: batches where they pay and keep every window, else singles."""
    groups = list(group_by_store(orders).values())
    fallback = default_pickup_estimate(config)
    problems = ProblemSet(
        [
            store_problem(
                group,
                now=now,
                config=config,
                eta=eta,
                estimate=(estimates or {}).get(group[0].store_id, fallback),
            )
            for group in groups
        ]
    )
    if batching and config.max_stops_per_trip > 1:
        routes = solve_all(solver or InsertionSolver(), problems)
    else:
        routes = [[(i,) for i in range(len(group))] for group in groups]
    store = [s for s, store_routes in enumerate(routes) for _ in store_routes]
    flat = [route for store_routes in routes for route in store_routes]
    _check_partition(problems, routes)
    store, flat, km, times = keep_routes_that_pay(problems, store, flat)
    return _plans(problems, groups, store, flat, km, times, now)


def orders_to_hold(
    orders: Sequence[OrderIn],
    upcoming: Sequence[OrderIn],
    *,
    now: float,
    config: EngineConfig,
    eta: EtaModel,
    solver: RouteSolver | None = None,
    estimates: Mapping[int, PickupEstimate] | None = None,
) -> set[int]:
    """Ids of the ready `orders` to hold back this round for an `upcoming` order (module doc).

    The trips are planned as `build_trips` plans them, over the ready and the upcoming orders of
    the stores that have both; a trip's ready orders are held together, or not at all. A held
    trip is offered once its last order is ready, so its windows are checked against a driver
    who sets off for the store only then.
    """
    if config.hold_max_s <= 0 or config.max_stops_per_trip < 2:
        return set()
    # Only a store with a ready order young enough to hold can hold anything (plans never mix
    # stores, and a plan whose ready orders include an older one holds none of them).
    stores = {o.store_id for o in orders if now - o.ready_at < config.hold_max_s}
    known, fallback = estimates or {}, default_pickup_estimate(config)
    soon = [
        replace(o, ready_at=max(o.ready_at, now) + known.get(o.store_id, fallback).seconds)
        for o in upcoming
        if o.store_id in stores and o.ready_at <= now + config.hold_horizon_s
    ]
    if not soon:
        return set()
    soon_ids = {o.id for o in soon}
    soon_stores = {o.store_id for o in soon}
    plans = build_trips(
        [o for o in orders if o.store_id in soon_stores] + soon,
        now=now,
        config=config,
        eta=eta,
        solver=solver,
        estimates=estimates,
    )
    held: set[int] = set()
    for plan in plans:
        ready = [o for o in plan.orders if o.id not in soon_ids]
        if len(ready) == len(plan.orders) or not ready:
            continue
        if all(now - o.ready_at < config.hold_max_s for o in ready):
            held.update(o.id for o in ready)
    return held


def plan_trip(
    trip: TripIn,
    *,
    now: float,
    config: EngineConfig,
    eta: EtaModel,
    estimate: PickupEstimate | None = None,
) -> TripPlan:
    """A caller-formed trip with its shortest feasible stop order (kept as given if none is)."""
    orders = list(trip.orders)
    if not orders or len({o.store_id for o in orders}) != 1:
        raise ValueError("a trip needs one or more orders from one store")
    estimate = estimate or default_pickup_estimate(config)
    problem = store_problem(orders, now=now, config=config, eta=eta, estimate=estimate)
    # the caller decided the batch: no stop or capacity limit applies to its ordering
    problem = replace(problem, max_stops=problem.n, capacity_units=int(problem.size.sum()))
    ordered, km, _, times = best_orders(problem.as_set, [0], [tuple(range(len(orders)))])
    return _plans(problem.as_set, [orders], [0], ordered, km.tolist(), times, now, trip.pay_cents)[
        0
    ]


def store_problem(
    orders: Sequence[OrderIn],
    *,
    now: float,
    config: EngineConfig,
    eta: EtaModel,
    estimate: PickupEstimate,
) -> RoutingProblem:
    lats = np.array([orders[0].pickup_lat] + [o.dropoff_lat for o in orders])
    lngs = np.array([orders[0].pickup_lng] + [o.dropoff_lng for o in orders])
    km, secs = eta.legs(lats[:, None], lngs[:, None], lats[None, :], lngs[None, :])
    return RoutingProblem(
        km=km,
        secs=secs,
        release_s=np.array([o.ready_at - now for o in orders]),
        window_start_s=np.array([o.dropoff_window_start - now for o in orders]),
        window_end_s=np.array([o.dropoff_window_end - now for o in orders]),
        size=np.array([o.size_units for o in orders], dtype=np.int64),
        depart_min_s=estimate.seconds,
        handoff_pickup_s=config.handoff_pickup_s,
        handoff_dropoff_s=config.handoff_dropoff_s,
        max_stops=config.max_stops_per_trip,
        capacity_units=config.batch_capacity_units,
        fixed_km=estimate.km,
        xy=LocalProjection(float(lats[0]), float(lngs[0])).xy(lats, lngs),
    )


def _check_partition(problems: ProblemSet, routes: list[list[Route]]) -> None:
    for problem, store_routes in zip(problems.problems, routes, strict=True):
        if sorted(i for route in store_routes for i in route) != list(range(problem.n)):
            raise ValueError("a route solver must return every order exactly once")


def _plans(
    problems: ProblemSet,
    groups: Sequence[Sequence[OrderIn]],
    store: list[int],
    routes: list[Route],
    route_km: list[float],
    times: list[list[float]],
    now: float,
    pay_cents: int | None = None,
) -> list[TripPlan]:
    """TripPlans for routes (each of store `store[i]`'s orders `groups[store[i]]`), with the
    legs of all of them read from the matrices in one pass."""
    leg_km, leg_s = problems.legs(store, routes)
    out = []
    for s, route, km, t, legs, secs in zip(
        store, routes, route_km, times, leg_km, leg_s, strict=True
    ):
        problem, orders = problems.problems[s], groups[s]
        ordered = tuple(orders[i] for i in route)
        stops = tuple(
            Stop(o.id, o.dropoff_lat, o.dropoff_lng, leg_km=k, leg_s=d, eta_at=now + at)
            for o, k, d, at in zip(ordered, legs, secs, t, strict=True)
        )
        release = (o.ready_at - now for o in ordered)
        depart = max(problem.depart_min_s, *release) + problem.handoff_pickup_s
        first = ordered[0]
        out.append(
            TripPlan(
                key=trip_key(first.store_id, (o.id for o in ordered)),
                store_id=first.store_id,
                pickup_lat=first.pickup_lat,
                pickup_lng=first.pickup_lng,
                orders=ordered,
                stops=stops,
                route_km=km,
                route_s=t[-1] + problem.handoff_dropoff_s - depart,
                ready_at=max(o.ready_at for o in ordered),
                departs_at=now + depart,
                pay_cents=sum(o.pay_cents for o in ordered) if pay_cents is None else pay_cents,
                size_units=sum(o.size_units for o in ordered),
                contains_alcohol=any(o.contains_alcohol for o in ordered),
            )
        )
    return out
