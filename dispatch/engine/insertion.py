"""Parallel cheapest insertion with time windows: the default, pure Python + numpy route solver.

Per store, every order starts as its own route. At each step the store makes the one insertion
(an order that is still alone, into another route with room, at its best position) with the
largest saving
    saving = fixed_km + km(order alone) - (km(route with order) - km(route)),
as long as the saving is positive and every window of the new route holds; then it re-prices
insertions into the route it just changed. All stores step in lockstep, so each step costs one
vectorised evaluation for every store at once (see routing.ProblemSet).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dispatch.engine.routing import EPS_KM, ProblemSet, Route, RoutingProblem

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class InsertionSolver:
    def solve(self, problem: RoutingProblem) -> list[Route]:
        return self.solve_many(problem.as_set)[0]

    def solve_many(self, problems: ProblemSet) -> list[list[Route]]:
        states = [_StoreState(problems, s) for s in range(len(problems.problems))]
        _price_pairs(problems, [st for st in states if st.active])
        active = [st for st in states if st.active]
        while active:
            refresh = [(st, r) for st in active if (r := st.merge_best()) is not None]
            _price_insertions(problems, refresh)
            active = [st for st in active if st.active]
        return [st.result() for st in states]


class _StoreState:
    """One store's routes and the saving of every (route, lone order) insertion."""

    def __init__(self, problems: ProblemSet, s: int) -> None:
        self.store = s
        self.n = int(problems.n1[s]) - 1
        self.max_stops = int(problems.max_stops[s])
        self.fixed_km = float(problems.fixed_km[s])
        single_km, single_ok = problems.store_singles(s)
        self.single_km = single_km
        self.free = single_ok.copy()  # alone, and on time when alone
        self.routes: dict[int, list[int]] = {i: [i] for i in range(self.n)}
        self.route_km = dict(enumerate(single_km.tolist()))
        self.gain = np.full((self.n, self.n), -np.inf)
        self.pos = np.zeros((self.n, self.n), dtype=np.int64)
        self.active = self.n >= 2 and self.max_stops >= 2 and int(self.free.sum()) >= 2

    def merge_best(self) -> int | None:
        """Make the best insertion; the route to re-price, if any."""
        r, o = divmod(int(np.argmax(self.gain)), self.n)
        gain = float(self.gain[r, o])
        if not gain > EPS_KM:
            self.active = False
            return None
        self.routes[r].insert(int(self.pos[r, o]), o)
        self.route_km[r] += self.fixed_km + float(self.single_km[o]) - gain
        del self.routes[o]
        # o now rides in r, and r is no longer alone, so neither can be inserted anywhere
        self.free[r] = self.free[o] = False
        self.gain[r] = self.gain[o] = self.gain[:, r] = self.gain[:, o] = -np.inf
        if not self.free.any():
            self.active = False
            return None
        return r if len(self.routes[r]) < self.max_stops else None

    def result(self) -> list[Route]:
        return [tuple(seq) for seq in self.routes.values()]


def _price_pairs(problems: ProblemSet, states: list[_StoreState]) -> None:
    """Savings of joining two lone orders, for every store in one evaluation."""
    if not states:
        return
    firsts, seconds, stores = [], [], []
    for st in states:
        ii, jj = np.divmod(np.arange(st.n * st.n), st.n)
        firsts.append(ii)
        seconds.append(jj)
        stores.append(np.full(st.n * st.n, st.store))
    seqs = np.column_stack([np.concatenate(firsts), np.concatenate(seconds)])
    km, ok, _ = problems.evaluate(np.concatenate(stores), seqs)
    km = np.where(ok, km, np.inf)
    start = 0
    for st in states:
        pair = km[start : start + st.n * st.n].reshape(st.n, st.n)  # store -> i -> j
        start += st.n * st.n
        np.fill_diagonal(pair, np.inf)
        best = np.minimum(pair, pair.T)
        usable = st.free[:, None] & st.free[None, :] & np.isfinite(best)
        saving = st.fixed_km + st.single_km[:, None] + st.single_km[None, :] - best
        st.gain = np.where(usable, saving, -np.inf)
        st.pos = (pair <= pair.T).astype(np.int64)  # 1: j goes after i


def _price_insertions(problems: ProblemSet, refresh: list[tuple[_StoreState, int]]) -> None:
    """Re-price inserting each lone order into each changed route, grouped by route length."""
    by_length: dict[int, list[tuple[_StoreState, int, IntArray]]] = {}
    for st, r in refresh:
        by_length.setdefault(len(st.routes[r]), []).append((st, r, np.flatnonzero(st.free)))
    for length, jobs in by_length.items():
        seqs = np.concatenate([_insertions(st.routes[r], c) for st, r, c in jobs])
        stores = np.concatenate([np.full(len(c) * (length + 1), st.store) for st, _, c in jobs])
        km, ok, _ = problems.evaluate(stores, seqs)
        km = np.where(ok, km, np.inf)
        start = 0
        for st, r, cands in jobs:
            block = km[start : start + len(cands) * (length + 1)].reshape(len(cands), length + 1)
            start += len(cands) * (length + 1)
            best_pos = np.argmin(block, axis=1)
            added = block[np.arange(len(cands)), best_pos] - st.route_km[r]
            saving = st.fixed_km + st.single_km[cands] - added
            st.gain[r, cands] = np.where(np.isfinite(added), saving, -np.inf)
            st.pos[r, cands] = best_pos


def _insertions(route: list[int], cands: IntArray) -> IntArray:
    """(len(cands) * (L + 1), L + 1): each candidate at each position of the route."""
    length = len(route)
    seqs = np.empty((len(cands), length + 1, length + 1), dtype=np.int64)
    for p in range(length + 1):
        seqs[:, p, :p] = route[:p]
        seqs[:, p, p] = cands
        seqs[:, p, p + 1 :] = route[p:]
    return seqs.reshape(-1, length + 1)
