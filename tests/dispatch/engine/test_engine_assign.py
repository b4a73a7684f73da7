"""The sparse optimal matcher against brute force, and its edge cases."""

import random

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from dispatch.engine import EngineConfig, solve_round
from dispatch.engine.assign import dual_potentials, match_min_cost, ranks_within_rows
from dispatch.engine.candidates import DriverArrays, DriverIndex, TripArrays, candidate_arcs
from dispatch.engine.cost import arc_costs, unassigned_costs
from dispatch.engine.geo import HaversineEta
from tests.dispatch.engine.helpers import NOW, brute_force_min_cost, random_instance

PENALTY = 1000.0


def _matched_cost(n_rows, arcs, matched):
    cost = 0.0
    for row in range(n_rows):
        cost += PENALTY if matched[row] < 0 else arcs[(row, int(matched[row]))]
    return cost


@pytest.mark.parametrize("seed", range(60))
def test_match_min_cost_equals_brute_force_on_random_sparse_instances(seed):
    rng = random.Random(seed)
    n_rows, n_cols = rng.randint(1, 6), rng.randint(1, 6)
    density = rng.choice([0.3, 0.6, 1.0])
    arcs = {
        (r, c): rng.uniform(-200, 1500)  # some arcs cost more than leaving the row out
        for r in range(n_rows)
        for c in range(n_cols)
        if rng.random() < density
    }
    rows = np.array([k[0] for k in arcs], dtype=np.int64)
    cols = np.array([k[1] for k in arcs], dtype=np.int64)
    costs = np.array(list(arcs.values()))

    matched = match_min_cost(n_rows, n_cols, rows, cols, costs, PENALTY)

    assert _matched_cost(n_rows, arcs, matched) == pytest.approx(
        brute_force_min_cost(n_rows, n_cols, arcs, PENALTY)
    )
    used = matched[matched >= 0]
    assert len(set(used.tolist())) == len(used)


@pytest.mark.parametrize("seed", range(40))
def test_match_min_cost_with_a_penalty_per_row_equals_brute_force(seed):
    rng = random.Random(2000 + seed)
    n_rows, n_cols = rng.randint(1, 6), rng.randint(1, 5)
    penalty = np.array([PENALTY * rng.choice([1, 2, 3]) for _ in range(n_rows)])
    arcs = {
        (r, c): rng.uniform(-200, 3500)
        for r in range(n_rows)
        for c in range(n_cols)
        if rng.random() < 0.6
    }
    rows = np.array([k[0] for k in arcs], dtype=np.int64)
    cols = np.array([k[1] for k in arcs], dtype=np.int64)
    costs = np.array(list(arcs.values()))

    matched = match_min_cost(n_rows, n_cols, rows, cols, costs, penalty)

    ours = sum(penalty[r] if matched[r] < 0 else arcs[(r, int(matched[r]))] for r in range(n_rows))
    assert ours == pytest.approx(brute_force_min_cost(n_rows, n_cols, arcs, penalty.tolist()))
    u, v = dual_potentials(n_rows, n_cols, rows, cols, costs, penalty, matched)
    assert (costs - u[rows] - v[cols] >= -1e-6).all()
    assert (u[matched < 0] <= penalty[matched < 0] + 1e-6).all()


def test_match_min_cost_gives_a_scarce_driver_to_the_row_that_costs_most_to_leave_out():
    # one column, two rows: the dearer arc wins when its row's penalty is the larger one
    rows, cols, costs = np.array([0, 1]), np.array([0, 0]), np.array([100.0, 400.0])
    assert match_min_cost(2, 1, rows, cols, costs, PENALTY).tolist() == [0, -1]
    penalty = np.array([PENALTY, 3 * PENALTY])
    assert match_min_cost(2, 1, rows, cols, costs, penalty).tolist() == [-1, 0]


def test_match_min_cost_handles_no_rows_no_columns_and_no_arcs():
    empty = np.zeros(0, dtype=np.int64)
    assert match_min_cost(0, 5, empty, empty, np.zeros(0), PENALTY).tolist() == []
    assert match_min_cost(3, 0, empty, empty, np.zeros(0), PENALTY).tolist() == [-1, -1, -1]
    assert match_min_cost(2, 2, empty, empty, np.zeros(0), PENALTY).tolist() == [-1, -1]


def test_match_min_cost_keeps_the_cheapest_copy_of_a_repeated_arc():
    rows, cols = np.array([0, 0]), np.array([1, 1])
    matched = match_min_cost(1, 2, rows, cols, np.array([5000.0, 3.0]), PENALTY)
    assert matched.tolist() == [1]


def test_match_min_cost_leaves_a_row_out_when_its_only_arc_costs_more_than_the_penalty():
    matched = match_min_cost(1, 1, np.array([0]), np.array([0]), np.array([PENALTY + 1]), PENALTY)
    assert matched.tolist() == [-1]


def test_match_min_cost_accepts_zero_and_negative_costs():
    rows, cols = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    matched = match_min_cost(2, 2, rows, cols, np.array([0.0, -5.0, -5.0, 0.0]), PENALTY)
    assert matched.tolist() == [1, 0]


def test_ranks_within_rows_counts_from_one_by_cost():
    ranks = ranks_within_rows(np.array([0, 0, 1, 0, 1]), np.array([3.0, 1.0, 9.0, 2.0, 4.0]))
    assert ranks.tolist() == [3, 1, 2, 2, 1]


@pytest.mark.parametrize("seed", range(25))
def test_solve_round_optimal_equals_brute_force_over_all_eligible_pairs(seed):
    rng = random.Random(1000 + seed)
    orders, drivers = random_instance(rng, rng.randint(1, 6), rng.randint(1, 6))
    config = EngineConfig(k_nearest=10, unassigned_penalty_s=100_000.0)

    result = solve_round(orders, drivers, config, batching=False, now=NOW)

    # every eligible (trip, driver) pair, priced with the engine's own cost function
    trips = TripArrays.build([a.trip for a in result.assignments] + list(result.unassigned), config)
    index = DriverIndex(DriverArrays.build(drivers, config), HaversineEta.from_config(config))
    everyone = np.arange(len(trips), dtype=np.int64)
    arcs = candidate_arcs(trips, index, everyone, np.full(len(trips), len(drivers)))
    costs = arc_costs(trips, index.drivers, arcs, now=NOW, config=config)
    table = {
        (int(t), int(d)): float(c)
        for t, d, c in zip(arcs.trip, arcs.driver, costs.total, strict=True)
    }
    left_out = unassigned_costs(trips, now=NOW, config=config)  # per trip: orders, waits
    best = brute_force_min_cost(len(trips), len(drivers), table, left_out.tolist())
    ours = sum(a.cost for a in result.assignments)
    ours += left_out[len(result.assignments) :].sum()
    assert ours == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize("seed", range(20))
def test_dual_potentials_certify_the_matching_is_optimal(seed):
    rng = random.Random(500 + seed)
    n_rows, n_cols = rng.randint(1, 30), rng.randint(1, 30)
    pairs = {(r, c) for r in range(n_rows) for c in range(n_cols) if rng.random() < 0.3}
    rows = np.array([p[0] for p in pairs], dtype=np.int64)
    cols = np.array([p[1] for p in pairs], dtype=np.int64)
    costs = np.array([rng.uniform(-50, 900) for _ in pairs])
    matched = match_min_cost(n_rows, n_cols, rows, cols, costs, PENALTY, assume_unique=True)

    u, v = dual_potentials(n_rows, n_cols, rows, cols, costs, PENALTY, matched)

    reduced = costs - u[rows] - v[cols]
    assert (reduced >= -1e-6).all()
    assert np.allclose(reduced[matched[rows] == cols], 0.0, atol=1e-6)
    assert (u[matched < 0] <= PENALTY + 1e-6).all()  # the dummy arc is priced too
    assert (v <= 1e-9).all()
    free = np.setdiff1d(np.arange(n_cols), matched[matched >= 0])
    assert np.allclose(v[free], 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_optimal_matches_the_dense_optimum_in_a_tight_market(seed):
    # 60 trips for 50 drivers: the nearest-driver lists alone are not enough here
    rng = random.Random(900 + seed)
    orders, drivers = random_instance(rng, 60, 50, n_stores=60, spread_km=10.0, strict=False)
    config = EngineConfig(unassigned_penalty_s=100_000.0)
    result = solve_round(orders, drivers, config, batching=False, now=NOW)

    trips = TripArrays.build([a.trip for a in result.assignments] + list(result.unassigned), config)
    index = DriverIndex(DriverArrays.build(drivers, config), HaversineEta.from_config(config))
    everyone = np.arange(len(trips), dtype=np.int64)
    arcs = candidate_arcs(trips, index, everyone, np.full(len(trips), len(drivers)))
    costs = arc_costs(trips, index.drivers, arcs, now=NOW, config=config)
    left_out = unassigned_costs(trips, now=NOW, config=config)
    dense = np.full((len(trips), len(drivers) + len(trips)), 10 * left_out.max())
    dense[arcs.trip, arcs.driver] = costs.total
    dense[np.arange(len(trips)), len(drivers) + np.arange(len(trips))] = left_out
    r, c = linear_sum_assignment(dense)

    ours = sum(a.cost for a in result.assignments)
    ours += left_out[len(result.assignments) :].sum()
    assert ours == pytest.approx(dense[r, c].sum(), rel=1e-9)
