"""Optimal assignment on a sparse cost graph with an "unassigned" option per trip.

Rows are trips, columns are drivers plus one dummy column per trip that only that trip can take,
at the trip's `unassigned_cost` (one value for all, or one per row: a trip of three orders left
waiting costs more than a trip of one). With a dummy per row a full matching of the rows always
exists, so scipy's `min_weight_full_bipartite_matching` (LAPJVsp) never fails, and its optimum is
the cheapest partial assignment of trips to drivers, counting `unassigned_cost` for every trip
left out.
Memory and time grow with the number of arcs, not rows x columns.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def match_min_cost(
    n_rows: int,
    n_cols: int,
    rows: IntArray,
    cols: IntArray,
    costs: FloatArray,
    unassigned_cost: float | FloatArray,
    *,
    assume_unique: bool = False,
) -> IntArray:
    """The column matched to each row, or -1 for rows left unassigned.

    Arcs may repeat (the cheapest copy counts) unless `assume_unique` says they don't; costs may
    be negative; an arc dearer than its row's `unassigned_cost` is never used.
    """
    matched = np.full(n_rows, -1, dtype=np.int64)
    if n_rows == 0 or len(rows) == 0:
        return matched
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    costs = np.asarray(costs, np.float64)
    if not assume_unique:
        rows, cols, costs = _cheapest_copies(rows, cols, costs, n_cols)
    dummy_cost = _per_row(unassigned_cost, n_rows)
    keep = costs < dummy_cost[rows]
    rows, cols, costs = rows[keep], cols[keep], costs[keep]
    # Every row is matched exactly once, so adding one constant to all of its arcs (dummy
    # included) leaves the optimum unchanged; it makes every weight strictly positive, which
    # keeps explicit zeros and negative costs out of the sparse solver.
    shift = 1.0 - min(float(costs.min(initial=0.0)), 0.0)
    all_rows = np.concatenate([rows, np.arange(n_rows)])
    all_cols = np.concatenate([cols, n_cols + np.arange(n_rows)])
    weights = np.concatenate([costs, dummy_cost]) + shift
    graph = csr_matrix((weights, (all_rows, all_cols)), shape=(n_rows, n_cols + n_rows))
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = col_ind < n_cols
    matched[row_ind[real]] = col_ind[real]
    return matched


def _per_row(value: float | FloatArray, n_rows: int) -> FloatArray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n_rows,)).copy()


def _cheapest_copies(
    rows: IntArray, cols: IntArray, costs: FloatArray, n_cols: int
) -> tuple[IntArray, IntArray, FloatArray]:
    order = np.lexsort((costs, rows * n_cols + cols))
    keys = (rows * n_cols + cols)[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    pick = order[first]
    return rows[pick], cols[pick], costs[pick]


def ranks_within_rows(rows: IntArray, costs: FloatArray) -> IntArray:
    """1-based rank of each arc's cost among the arcs of its row (ties broken by position)."""
    order = np.lexsort((costs, rows))
    sorted_rows = rows[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = sorted_rows[1:] != sorted_rows[:-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order)) - group_start + 1
    return ranks


def dual_potentials(
    n_rows: int,
    n_cols: int,
    rows: IntArray,
    cols: IntArray,
    costs: FloatArray,
    unassigned_cost: float | FloatArray,
    matched: IntArray,
    max_rounds: int = 1000,
) -> tuple[FloatArray, FloatArray]:
    """Optimal dual prices (u per row, v per real column) of a min-cost matching.

    With row i matched to column k(i) (its dummy when unassigned), the duals of
        min sum c x  s.t. each row matched once, each column at most once
    satisfy u_i + v_j <= c_ij on every arc, with equality on matched arcs, v_j <= 0, and v_j = 0
    for free columns. Substituting u_i = c_i,k(i) - v_k(i) gives difference constraints
    v_j <= v_k(i) + (c_ij - c_i,k(i)), so v is a shortest-path distance from a source joined to
    every column at 0 (Bellman-Ford, vectorised; no negative cycle exists at an optimum).
    An arc (i, j) outside the graph with c_ij - u_i - v_j < 0 would improve the matching.
    """
    dummy = n_cols + np.arange(n_rows)
    dummy_cost = _per_row(unassigned_cost, n_rows)
    own = np.where(matched >= 0, matched, dummy)
    own_cost = dummy_cost.copy()
    is_matched = matched[rows] == cols
    own_cost[rows[is_matched]] = costs[is_matched]
    src = np.concatenate([own[rows], own])
    dst = np.concatenate([cols, dummy])
    weight = (
        np.concatenate([costs, dummy_cost]) - own_cost[np.concatenate([rows, np.arange(n_rows)])]
    )
    keep = src != dst
    src, dst, weight = src[keep], dst[keep], weight[keep]
    order = np.argsort(dst, kind="stable")
    src, dst, weight = src[order], dst[order], weight[order]
    targets, starts = np.unique(dst, return_index=True)
    dist = np.zeros(n_cols + n_rows)
    for _ in range(max_rounds):
        best = np.minimum.reduceat(dist[src] + weight, starts) if len(src) else starts
        relaxed = np.minimum(dist[targets], best)
        if not (relaxed < dist[targets] - 1e-9).any():
            break
        dist[targets] = relaxed
    u = own_cost - dist[own]
    return u, dist[:n_cols]
