"""Open-route problems of one store, a vectorised evaluator, and the `RouteSolver` interface.

A `RoutingProblem` holds one store's ready orders: drive km/seconds between the store (node 0)
and the drop-offs (node i + 1 for order i), ready times, drop-off windows, sizes, and the
`fixed_km` a separate trip costs (its drive to the store). A solver partitions the orders into
routes of at most `max_stops` drop-offs within `capacity_units`, each route starting at the store
and ending at its last drop-off (engaged miles stop there), minimising
    sum over routes of (fixed_km + route km)
subject to every drop-off being served inside its window. Times are seconds after `now`; a route
leaves the store at max(depart_min_s, latest release of its orders) + handoff_pickup_s and waits
for a window to open when it is early.

Solvers: `InsertionSolver` (insertion.py, the default: parallel cheapest insertion, all stores in
lockstep) and `PyVRPSolver` here (PyVRP 0.14 under a time limit, for big stores or offline
planning; falls back to `InsertionSolver` when PyVRP is missing or finds nothing feasible).
`ProblemSet` evaluates routes of many stores in one numpy pass, which is what keeps a round of
a thousand orders in a few milliseconds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

Route = tuple[int, ...]
EPS_KM = 1e-9
_EPS_S = 1e-6
_MAX_PERMUTED_STOPS = 6


@dataclass(frozen=True, eq=False)
class RoutingProblem:
    km: FloatArray  # (n + 1, n + 1) road km, node 0 is the store
    secs: FloatArray  # (n + 1, n + 1) drive seconds
    release_s: FloatArray  # (n,) when each order is ready
    window_start_s: FloatArray  # (n,)
    window_end_s: FloatArray  # (n,)
    size: IntArray  # (n,)
    depart_min_s: float  # when a driver can be at the store
    handoff_pickup_s: float
    handoff_dropoff_s: float
    max_stops: int
    capacity_units: int
    fixed_km: float
    xy: FloatArray | None = None  # (n + 1, 2) projected km, only a hint for PyVRP

    @property
    def n(self) -> int:
        return len(self.release_s)

    @cached_property
    def as_set(self) -> ProblemSet:
        return ProblemSet([self])

    def evaluate(self, seqs: IntArray) -> tuple[FloatArray, BoolArray, FloatArray]:
        """Km, feasibility and service times of routes given as an (R, L) array of orders."""
        seqs = np.asarray(seqs, dtype=np.int64)
        return self.as_set.evaluate(np.zeros(len(seqs), dtype=np.int64), seqs)

    def singles(self) -> tuple[FloatArray, BoolArray]:
        """Km of each order as a trip of its own, and whether it is then on time."""
        km, ok = self.as_set.singles
        return km.copy(), ok.copy()


class ProblemSet:
    """Several stores' problems laid end to end, so routes of all of them evaluate together."""

    def __init__(self, problems: Sequence[RoutingProblem]) -> None:
        self.problems = list(problems)
        n1 = np.array([p.n + 1 for p in self.problems], dtype=np.int64)
        self.n1 = n1
        self.node_base = np.concatenate([[0], np.cumsum(n1)[:-1]]).astype(np.int64)
        self.flat_base = np.concatenate([[0], np.cumsum(n1 * n1)[:-1]]).astype(np.int64)
        self.order_base = self.node_base - np.arange(len(n1))  # first order of each store
        self.km_flat = _concat([p.km.ravel() for p in self.problems])
        self.secs_flat = _concat([p.secs.ravel() for p in self.problems])
        self.release = _concat([np.r_[-np.inf, p.release_s] for p in self.problems])
        self.window_start = _concat([np.r_[0.0, p.window_start_s] for p in self.problems])
        self.window_end = _concat([np.r_[np.inf, p.window_end_s] for p in self.problems])
        self.size = _concat([np.r_[0, p.size] for p in self.problems]).astype(np.int64)
        self.depart_min = np.array([p.depart_min_s for p in self.problems])
        self.handoff_pickup = np.array([p.handoff_pickup_s for p in self.problems])
        self.handoff = np.array([p.handoff_dropoff_s for p in self.problems])
        self.capacity = np.array([p.capacity_units for p in self.problems], dtype=np.int64)
        self.max_stops = np.array([p.max_stops for p in self.problems], dtype=np.int64)
        self.fixed_km = np.array([p.fixed_km for p in self.problems])

    def evaluate(self, store: IntArray, seqs: IntArray) -> tuple[FloatArray, BoolArray, FloatArray]:
        """Km, feasibility and service times of routes (R, L) of orders of stores (R,).

        Service at stop j is t_j = max(t_(j-1) + handoff + drive_j, window_start_j); with C_j the
        drive and hand-offs up to j, t_j - C_j is a running maximum. Routes are short and many,
        so the work goes column by column (stop j of every route at once): numpy reductions
        along a short last axis cost several times more than the same adds over whole columns.
        """
        stops = (seqs + 1).T  # (L, R): node of stop j of each route
        length, count = stops.shape
        n1, base = self.n1[store], self.flat_base[store]
        nodes = self.node_base[store] + stops
        legs = np.empty_like(stops)
        legs[0] = base + stops[0]
        legs[1:] = base + stops[:-1] * n1 + stops[1:]
        leg_km, leg_s = self.km_flat[legs], self.secs_flat[legs]
        release, window_start = self.release[nodes], self.window_start[nodes]
        window_end, size = self.window_end[nodes], self.size[nodes]
        handoff = self.handoff[store]
        km, reach, load = leg_km[0].copy(), leg_s[0].copy(), size[0].copy()
        start = np.maximum(release[0], self.depart_min[store])
        for j in range(1, length):
            km += leg_km[j]
            load += size[j]
            np.maximum(start, release[j], out=start)
        start += self.handoff_pickup[store]
        times = np.empty((length, count))
        ok = load <= self.capacity[store]
        ok &= length <= self.max_stops[store]
        latest = start
        for j in range(length):
            if j:
                reach = reach + leg_s[j]
                arrive = reach + handoff * j
            else:
                arrive = reach
            latest = np.maximum(latest, window_start[j] - arrive)
            times[j] = latest + arrive
            ok &= times[j] <= window_end[j] + _EPS_S
        return km, ok, times.T

    def legs(
        self, store: Sequence[int], routes: Sequence[Route]
    ) -> tuple[list[list[float]], list[list[float]]]:
        """Km and drive seconds of each route's legs (store to first stop, then stop to stop)."""
        counts = [len(r) for r in routes]
        nodes = np.fromiter(itertools.chain.from_iterable(routes), np.int64, sum(counts)) + 1
        ends = np.cumsum(np.asarray(counts, dtype=np.int64))
        prev = np.empty_like(nodes)
        prev[1:] = nodes[:-1]
        prev[ends[:-1]] = 0
        prev[:1] = 0
        s = np.repeat(np.asarray(store, dtype=np.int64), counts)
        at = self.flat_base[s] + prev * self.n1[s] + nodes
        km, secs = self.km_flat[at].tolist(), self.secs_flat[at].tolist()
        stops = ends.tolist()
        bounds = list(zip([0, *stops][:-1], stops, strict=True))
        return [km[a:b] for a, b in bounds], [secs[a:b] for a, b in bounds]

    @cached_property
    def singles(self) -> tuple[FloatArray, BoolArray]:
        """Per order (all stores, in order): km alone and whether it is then on time."""
        store = np.repeat(np.arange(len(self.problems)), self.n1 - 1)
        local = np.arange(len(store)) - self.order_base[store]
        km, ok, _ = self.evaluate(store, local[:, None])
        return km, ok

    def store_singles(self, s: int) -> tuple[FloatArray, BoolArray]:
        lo = int(self.order_base[s])
        hi = lo + int(self.n1[s]) - 1
        return self.singles[0][lo:hi], self.singles[1][lo:hi]


def _concat(parts: list[NDArray]) -> NDArray:
    return np.concatenate(parts) if parts else np.zeros(0)


class RouteSolver(Protocol):
    def solve(self, problem: RoutingProblem) -> list[Route]:
        """Partition the orders 0..n-1 into routes (each a tuple in visiting order)."""
        ...


def solve_all(solver: RouteSolver, problems: ProblemSet) -> list[list[Route]]:
    """Routes for every store; solvers with `solve_many` get all stores at once."""
    many = getattr(solver, "solve_many", None)
    if many is not None:
        return many(problems)
    return [solver.solve(p) for p in problems.problems]


def best_orders(
    problems: ProblemSet, store: list[int], routes: list[Route]
) -> tuple[list[Route], FloatArray, BoolArray, list[list[float]]]:
    """Shortest feasible order of each route (exhaustive up to 6 stops, else as given), with its
    km, feasibility and service times. Routes of equal length are evaluated together."""
    ordered: list[Route] = list(routes)
    km, ok = np.zeros(len(routes)), np.ones(len(routes), dtype=bool)
    times: list[list[float]] = [[] for _ in routes]
    for length, idxs in _by_length(routes).items():
        permuted = 1 < length <= _MAX_PERMUTED_STOPS
        perms = list(itertools.permutations(range(length))) if permuted else [tuple(range(length))]
        seqs = np.array([routes[i] for i in idxs], dtype=np.int64)[:, perms]  # (R, P, L)
        stores = np.repeat(np.array([store[i] for i in idxs], dtype=np.int64), len(perms))
        r_km, r_ok, r_t = problems.evaluate(stores, seqs.reshape(-1, length))
        shape = (len(idxs), len(perms))
        r_km, r_ok, r_t = r_km.reshape(shape), r_ok.reshape(shape), r_t.reshape(*shape, length)
        best = np.argmin(np.where(r_ok, r_km, np.inf), axis=1)
        best = np.where(r_ok.any(axis=1), best, 0)  # none feasible: keep the given order
        rows = np.arange(len(idxs))
        km[idxs], ok[idxs] = r_km[rows, best], r_ok[rows, best]
        chosen = zip(idxs, seqs[rows, best].tolist(), r_t[rows, best].tolist(), strict=True)
        for i, seq, t in chosen:
            ordered[i], times[i] = tuple(seq), t
    return ordered, km, ok, times


def _by_length(routes: list[Route]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for idx, route in enumerate(routes):
        groups.setdefault(len(route), []).append(idx)
    return groups


def keep_routes_that_pay(
    problems: ProblemSet, store: list[int], routes: list[Route]
) -> tuple[list[int], list[Route], list[float], list[list[float]]]:
    """Routes in their best order, with km and service times; a batch that is late or saves
    no km against its orders as single trips is split into singles."""
    ordered, km, ok, times = best_orders(problems, store, routes)
    counts = np.fromiter(map(len, ordered), np.int64, len(ordered))
    members = np.fromiter(itertools.chain.from_iterable(ordered), np.int64, int(counts.sum()))
    owner = np.repeat(np.asarray(store, dtype=np.int64), counts)
    alone_km = problems.singles[0][problems.order_base[owner] + members]
    starts = np.cumsum(counts) - counts
    fixed = problems.fixed_km[np.asarray(store, dtype=np.int64)]
    separate = np.add.reduceat(alone_km, starts) + fixed * counts if len(starts) else fixed
    pays = (counts == 1) | (ok & (fixed + km < separate - EPS_KM))
    keep = np.flatnonzero(pays).tolist()
    keep_store = [store[i] for i in keep]
    keep_routes = [ordered[i] for i in keep]
    keep_km, keep_times = km[keep].tolist(), [times[i] for i in keep]
    split_store, split = [], []
    for i in np.flatnonzero(~pays).tolist():
        split_store.extend([store[i]] * len(ordered[i]))
        split.extend((o,) for o in ordered[i])
    if split:
        s_ordered, s_km, _, s_times = best_orders(problems, split_store, split)
        keep_store += split_store
        keep_routes += s_ordered
        keep_km += s_km.tolist()
        keep_times += s_times
    return keep_store, keep_routes, keep_km, keep_times


class PyVRPSolver:
    """The same problem solved by PyVRP (imported lazily), with a wall-clock limit."""

    def __init__(
        self, time_limit_s: float = 0.2, seed: int = 0, fallback: RouteSolver | None = None
    ) -> None:
        self.time_limit_s = time_limit_s
        self.seed = seed
        self.fallback = fallback

    def _fallback(self) -> RouteSolver:
        if self.fallback is None:
            from dispatch.engine.insertion import InsertionSolver  # circular at module level

            self.fallback = InsertionSolver()
        return self.fallback

    def solve(self, problem: RoutingProblem) -> list[Route]:
        _, single_ok = problem.singles()
        batchable = np.flatnonzero(single_ok)
        alone = [(int(i),) for i in np.flatnonzero(~single_ok)]
        if len(batchable) < 2 or problem.max_stops < 2:
            return [(i,) for i in range(problem.n)]
        try:
            routes = _solve_pyvrp(problem, batchable, self.time_limit_s, self.seed)
        except ImportError:
            routes = None
        if routes is None:
            return self._fallback().solve(problem)
        return routes + alone


def _solve_pyvrp(
    problem: RoutingProblem, batchable: IntArray, time_limit_s: float, seed: int
) -> list[Route] | None:
    from pyvrp import Model  # optional: imported lazily
    from pyvrp.stop import MaxRuntime

    model = Model()
    xy = problem.xy if problem.xy is not None else np.zeros((problem.n + 1, 2))
    nodes = np.concatenate([[0], batchable + 1])
    locations = [model.add_location(float(xy[v, 0]), float(xy[v, 1])) for v in nodes]
    depot = model.add_depot(locations[0])
    start = problem.depart_min_s + problem.handoff_pickup_s
    for loc, order in zip(locations[1:], batchable, strict=True):
        model.add_client(
            loc,
            delivery=[1, int(problem.size[order])],
            service_duration=math.ceil(problem.handoff_dropoff_s),
            tw_early=max(0, math.ceil(problem.window_start_s[order])),
            tw_late=max(0, math.floor(problem.window_end_s[order])),
            release_time=math.ceil(max(problem.release_s[order] + problem.handoff_pickup_s, start)),
        )
    model.add_vehicle_type(
        num_available=len(batchable),
        capacity=[problem.max_stops, problem.capacity_units],
        start_depot=depot,
        end_depot=depot,
        fixed_cost=round(problem.fixed_km * 1000),
        tw_early=math.ceil(start),
    )
    _add_edges(model, locations, nodes, problem)
    result = model.solve(MaxRuntime(time_limit_s), seed=seed, display=False)
    if not result.is_feasible():
        return None
    routes = [
        tuple(int(batchable[a.idx]) for a in route if a.is_client())
        for route in result.best.routes()
    ]
    return [r for r in routes if r]


def _add_edges(model: Any, locations: list[Any], nodes: IntArray, problem: RoutingProblem) -> None:
    metres = np.rint(problem.km[np.ix_(nodes, nodes)] * 1000).astype(np.int64)
    secs = np.ceil(problem.secs[np.ix_(nodes, nodes)]).astype(np.int64)
    for a, frm in enumerate(locations):
        for b, to in enumerate(locations):
            # open routes: driving back to the store is free, the trip ends at the last drop-off
            free = a == b or b == 0
            model.add_edge(
                frm, to, 0 if free else int(metres[a, b]), 0 if free else int(secs[a, b])
            )
