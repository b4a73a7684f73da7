"""Parallel cheapest insertion with time windows: the default, pure Python + numpy route solver.

Per store, every order starts as its own route. At each step the store makes the one insertion
(an order that is still alone, into another route with room, at its best position) with the
largest saving
    saving = fixed_km + km(order alone) - (km(route with order) - km(route)),
as long as the saving is positive and every window of the new route holds; then it re-prices
insertions into the route it just changed.

All stores step in lockstep, and a step is a fixed number of numpy operations whatever the
number of stores: the stores' saving matrices lie end to end in one flat array (store s's n x n
block at `base[s]`, entry r * n + o: order o inserted into the route that order r started), and
the orders' state (alone or not, route, route km) in flat arrays indexed by `start[s] + i`. A
round of a thousand orders over fifty stores therefore costs a few dozen vectorised steps, not
a Python loop per store per step (see routing.ProblemSet for the route evaluation).
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
        state = _Insertions(problems)
        while (refresh := state.merge_best()) is not None:
            state.price_insertions(refresh)
        return state.result()


def _segments(counts: IntArray) -> tuple[IntArray, IntArray]:
    """For segments of the given lengths laid end to end: each element's segment and its
    index inside the segment."""
    which = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return which, np.arange(int(counts.sum())) - starts[which]


class _Insertions:
    """Every store's routes and the saving of every (route, lone order) insertion."""

    def __init__(self, problems: ProblemSet) -> None:
        self.problems = problems
        n = (problems.n1 - 1).astype(np.int64)
        self.n = n
        self.start = np.cumsum(n) - n  # first order of each store in the flat order arrays
        self.base = np.cumsum(n * n) - n * n  # first saving of each store
        self.store_of = np.repeat(np.arange(len(n)), n)
        self.single_km, single_ok = problems.singles
        self.free = single_ok.copy()  # alone, and on time when alone
        width = int(problems.max_stops.max(initial=1))
        self.routes = np.full((int(n.sum()), max(width, 1)), -1, dtype=np.int64)
        self.routes[:, 0] = np.arange(int(n.sum())) - self.start[self.store_of]
        self.length = np.ones(int(n.sum()), dtype=np.int64)  # 0: merged into another route
        self.route_km = self.single_km.copy()
        free_count = np.add.reduceat(self.free.astype(np.int64), self.start) if len(n) else n
        active = (n >= 2) & (problems.max_stops >= 2) & (free_count >= 2)
        self.gain = np.full(int((n * n).sum()), -np.inf)
        self.pos = np.zeros(len(self.gain), dtype=np.int64)
        # per step: each store's best saving, spread over its block (empty blocks have none)
        self.block_of = np.repeat(np.arange(len(n)), n * n)
        self.has_block = np.flatnonzero(n > 0)
        self._price_pairs(np.flatnonzero(active))

    def _price_pairs(self, stores: IntArray) -> None:
        """Savings of joining two lone orders, for all the given stores in one evaluation."""
        if not len(stores):
            return
        n = self.n[stores]
        block, local = _segments(n * n)
        s, size = stores[block], n[block]
        i, j = np.divmod(local, size)
        km, ok, _ = self.problems.evaluate(s, np.column_stack([i, j]))
        pair = np.where(ok & (i != j), km, np.inf)  # i -> j, as its own trip
        mirrored = pair[np.repeat(np.cumsum(n * n) - n * n, n * n) + j * size + i]  # j -> i
        best = np.minimum(pair, mirrored)
        fi, fj = self.free[self.start[s] + i], self.free[self.start[s] + j]
        usable = fi & fj & np.isfinite(best)
        single_i, single_j = self.single_km[self.start[s] + i], self.single_km[self.start[s] + j]
        saving = self.problems.fixed_km[s] + single_i + single_j - best
        at = self.base[s] + local
        self.gain[at] = np.where(usable, saving, -np.inf)
        self.pos[at] = (pair <= mirrored).astype(np.int64)  # 1: j goes after i

    def merge_best(self) -> tuple[IntArray, IntArray] | None:
        """Each store makes its best insertion; (stores, routes) to re-price, None when no
        store has one left."""
        if not len(self.gain):
            return None
        best = np.full(len(self.n), -np.inf)
        best[self.has_block] = np.maximum.reduceat(self.gain, self.base[self.has_block])
        stores = np.flatnonzero(best > EPS_KM)
        if not len(stores):
            return None
        hits = np.flatnonzero(self.gain == best[self.block_of])
        first = hits[np.searchsorted(hits, self.base[stores])]  # ties: the first, row-major
        n = self.n[stores]
        r, o = np.divmod(first - self.base[stores], n)
        at = self.pos[first]
        gain = self.gain[first]
        route, alone = self.start[stores] + r, self.start[stores] + o
        old = self.routes[route]
        cols = np.arange(old.shape[1])[None, :]
        shifted = np.concatenate([old[:, :1], old[:, :-1]], axis=1)
        new = np.where(cols < at[:, None], old, np.where(cols == at[:, None], o[:, None], shifted))
        self.routes[route] = new
        self.length[route] += 1
        self.length[alone] = 0
        self.route_km[route] += self.problems.fixed_km[stores] + self.single_km[alone] - gain
        # o now rides in r, and r is no longer alone, so neither can be inserted anywhere
        self.free[route] = self.free[alone] = False
        which, k = _segments(n)
        row_base = self.base[stores][which]
        size = n[which]
        for v in (r, o):
            self.gain[row_base + v[which] * size + k] = -np.inf  # v's row
            self.gain[row_base + k * size + v[which]] = -np.inf  # v's column
        room = self.length[route] < self.problems.max_stops[stores]
        return stores[room], route[room]

    def price_insertions(self, refresh: tuple[IntArray, IntArray]) -> None:
        """Re-price inserting each lone order into each changed route, grouped by length."""
        stores, routes = refresh
        if not len(stores):
            return
        slot = np.full(len(self.n), -1, dtype=np.int64)
        slot[stores] = np.arange(len(stores))
        alone = np.flatnonzero(self.free)
        alone = alone[slot[self.store_of[alone]] >= 0]
        job = slot[self.store_of[alone]]
        lengths = self.length[routes][job]
        for length in np.unique(lengths).tolist():
            pick = lengths == length
            cand, j = alone[pick], job[pick]
            s, route = stores[j], routes[j]
            local = cand - self.start[s]
            seqs = _insertions(self.routes[route, :length], local)
            km, ok, _ = self.problems.evaluate(np.repeat(s, length + 1), seqs)
            block = np.where(ok, km, np.inf).reshape(len(cand), length + 1)
            best_pos = np.argmin(block, axis=1)
            added = block[np.arange(len(cand)), best_pos] - self.route_km[route]
            saving = self.problems.fixed_km[s] + self.single_km[cand] - added
            at = self.base[s] + (route - self.start[s]) * self.n[s] + local
            self.gain[at] = np.where(np.isfinite(added), saving, -np.inf)
            self.pos[at] = best_pos

    def result(self) -> list[list[Route]]:
        out: list[list[Route]] = [[] for _ in self.n]
        for i in np.flatnonzero(self.length).tolist():
            out[self.store_of[i]].append(tuple(self.routes[i, : self.length[i]].tolist()))
        return out


def _insertions(routes: IntArray, cands: IntArray) -> IntArray:
    """(len(cands) * (L + 1), L + 1): each candidate at each position of its route (K, L)."""
    count, length = routes.shape
    seqs = np.empty((count, length + 1, length + 1), dtype=np.int64)
    for p in range(length + 1):
        seqs[:, p, :p] = routes[:, :p]
        seqs[:, p, p] = cands
        seqs[:, p, p + 1 :] = routes[:, p:]
    return seqs.reshape(-1, length + 1)
