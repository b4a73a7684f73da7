"""Greedy FIFO baseline: trips in ready order, each takes the nearest eligible free driver.

Nearest means the shortest road km to the store within the driver's max pickup km; the hard
constraints are the same as for the optimal matcher. It is what a simple dispatcher does, and the
yardstick for the optimal matcher's quality (PERFORMANCE.md, P3). The optimal policy also adds
the greedy's arcs to its candidate graph, so it can never serve fewer trips or cost more.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dispatch.engine.candidates import Arcs, DriverIndex, TripArrays, eligible

IntArray = NDArray[np.int64]

_FIRST_K = 32

Pick = tuple[int, int, float, float, int]  # trip, driver, km, seconds, rank among eligible


def greedy_assign(trips: TripArrays, index: DriverIndex, order: IntArray) -> tuple[Arcs, IntArray]:
    """The chosen arc of each trip that got a driver, and its rank among eligible drivers.

    One KD-tree query for every store and one vectorised eligibility check; the FIFO loop is
    plain Python over the nearest-first lists. A trip whose list runs out of free drivers
    before the search radius does is searched again with more neighbours.
    """
    n_drivers = len(index.drivers)
    if len(order) == 0 or n_drivers == 0:
        return _as_arcs([])
    # in a tight market late trips walk far down their lists: start with longer ones
    first_k = _FIRST_K if len(order) < n_drivers // 2 else 3 * _FIRST_K
    k = min(first_k + int(trips.trips_at_store.max()), n_drivers)
    idx, km, secs = index.nearest(trips.store_lat, trips.store_lng, k)
    rows = trips.store[order]
    ok = eligible(trips, index.drivers, order[:, None], idx[rows], km[rows])
    exhausted = np.isfinite(km[:, -1]) & (k < n_drivers)  # more drivers beyond the list
    taken = [False] * n_drivers
    picked: list[Pick] = []
    idx_l, km_l, s_l = idx.tolist(), km.tolist(), secs.tolist()
    for t, row, ok_row in zip(order.tolist(), rows.tolist(), ok.tolist(), strict=True):
        pick = _first_free(t, idx_l[row], km_l[row], s_l[row], ok_row, taken)
        if pick is None and exhausted[row]:
            pick = _search_wider(trips, index, t, taken, 2 * k)
        if pick is not None:
            taken[pick[1]] = True
            picked.append(pick)
    return _as_arcs(picked)


def _first_free(
    t: int, drv: list[int], km: list[float], secs: list[float], ok: list[bool], taken: list[bool]
) -> Pick | None:
    rank = 0
    for j, d in enumerate(drv):
        if ok[j]:
            rank += 1
            if not taken[d]:
                return t, d, km[j], secs[j], rank
    return None


def _search_wider(
    trips: TripArrays, index: DriverIndex, t: int, taken: list[bool], k: int
) -> Pick | None:
    n_drivers = len(index.drivers)
    while True:
        k = min(k, n_drivers)
        store = trips.store[[t]]
        idx, km, secs = index.nearest(trips.store_lat[store], trips.store_lng[store], k)
        ok = eligible(trips, index.drivers, np.full(k, t), idx[0], km[0])
        pick = _first_free(t, idx[0].tolist(), km[0].tolist(), secs[0].tolist(), ok.tolist(), taken)
        if pick is not None or k >= n_drivers or not np.isfinite(km[0, -1]):
            return pick
        k *= 2


def _as_arcs(picked: list[Pick]) -> tuple[Arcs, IntArray]:
    cols = list(zip(*picked, strict=True)) if picked else [(), (), (), (), ()]
    arcs = Arcs(
        trip=np.array(cols[0], dtype=np.int64),
        driver=np.array(cols[1], dtype=np.int64),
        pickup_km=np.array(cols[2], dtype=np.float64),
        pickup_s=np.array(cols[3], dtype=np.float64),
    )
    return arcs, np.array(cols[4], dtype=np.int64)
