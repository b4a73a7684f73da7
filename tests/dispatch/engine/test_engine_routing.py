"""Route solvers: the vectorised evaluator, insertion vs PyVRP, and the fallback."""

import builtins
import itertools
import random

import numpy as np
import pytest

from dispatch.engine import EngineConfig, HaversineEta, InsertionSolver, PyVRPSolver, solve_round
from dispatch.engine.batching import PickupEstimate, store_problem
from dispatch.engine.routing import ProblemSet
from tests.dispatch.engine.helpers import NOW, driver, order

CONFIG = EngineConfig()
ETA = HaversineEta.from_config(CONFIG)


ESTIMATE = PickupEstimate(km=2.0, seconds=300.0)


def _problem(seed, n, window=(0.0, 5400.0), estimate=ESTIMATE):
    rng = random.Random(seed)
    orders = [
        order(
            i + 1,
            drop_xy=(rng.uniform(-5, 5), rng.uniform(-5, 5)),
            ready_in_s=rng.uniform(-120, 240),
            window_s=(window[0], window[1] * rng.uniform(0.5, 1.0)),
            size=rng.choice([1, 2]),
        )
        for i in range(n)
    ]
    return store_problem(orders, now=NOW, config=CONFIG, eta=ETA, estimate=estimate)


def _reference(problem, route):
    """Plain-Python schedule of one route, as the docstring of routing.py defines it."""
    t = (
        max(problem.depart_min_s, max(problem.release_s[i] for i in route))
        + problem.handoff_pickup_s
    )
    km, prev, ok, times = 0.0, 0, True, []
    for i in route:
        km += problem.km[prev, i + 1]
        t = max(t + problem.secs[prev, i + 1], problem.window_start_s[i])
        ok = ok and t <= problem.window_end_s[i] + 1e-6
        times.append(t)
        t += problem.handoff_dropoff_s
        prev = i + 1
    ok = ok and sum(problem.size[list(route)]) <= problem.capacity_units
    return km, ok and len(route) <= problem.max_stops, times


def _total_km(problem, routes):
    total = 0.0
    for route in routes:
        km, ok, _ = problem.evaluate(np.array([route]))
        assert ok[0]
        total += problem.fixed_km + float(km[0])
    return total


def _assert_partition(problem, routes):
    assert sorted(i for r in routes for i in r) == list(range(problem.n))


@pytest.mark.parametrize("seed", range(5))
def test_evaluate_matches_a_plain_python_schedule(seed):
    problem = _problem(seed, 5, window=(600.0, 2400.0))
    routes = list(itertools.permutations(range(5), 3))
    km, ok, times = problem.evaluate(np.array(routes))
    for j, route in enumerate(routes):
        ref_km, ref_ok, ref_times = _reference(problem, route)
        assert km[j] == pytest.approx(ref_km)
        assert bool(ok[j]) == ref_ok
        assert times[j].tolist() == pytest.approx(ref_times)


def test_problem_set_evaluates_routes_of_several_stores_like_each_store_alone():
    problems = [_problem(1, 4), _problem(2, 6), _problem(3, 3)]
    combined = ProblemSet(problems)
    for s, problem in enumerate(problems):
        seqs = np.array([[0, 1], [2, 0], [1, 2]])
        alone = problem.evaluate(seqs)
        together = combined.evaluate(np.full(3, s), seqs)
        for a, b in zip(alone, together, strict=True):
            assert np.allclose(a, b)


@pytest.mark.parametrize("seed", range(6))
def test_insertion_solver_returns_feasible_routes_no_longer_than_singles(seed):
    problem = _problem(seed, 12)
    routes = InsertionSolver().solve(problem)
    _assert_partition(problem, routes)
    singles = _total_km(problem, [(i,) for i in range(problem.n)])
    assert _total_km(problem, routes) <= singles + 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_insertion_solver_is_close_to_pyvrp(seed):
    problem = _problem(seed, 15)
    insertion = _total_km(problem, InsertionSolver().solve(problem))
    pyvrp_routes = PyVRPSolver(time_limit_s=0.2, seed=seed).solve(problem)
    _assert_partition(problem, pyvrp_routes)
    pyvrp = _total_km(problem, pyvrp_routes)
    # PyVRP's integer metres may cost it a few metres; the heuristic stays within 15 %
    assert pyvrp <= insertion * 1.001 + 0.01
    assert insertion <= pyvrp * 1.15


def test_pyvrp_solver_falls_back_to_insertion_when_pyvrp_is_missing(monkeypatch):
    real_import = builtins.__import__

    def no_pyvrp(name, *args, **kwargs):
        if name.startswith("pyvrp"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyvrp)
    problem = _problem(4, 8)
    assert PyVRPSolver().solve(problem) == InsertionSolver().solve(problem)


def test_solvers_leave_orders_that_are_late_alone_as_singles():
    problem = _problem(5, 6, window=(0.0, 200.0))  # nothing can be delivered in time
    for solver in (InsertionSolver(), PyVRPSolver(time_limit_s=0.1)):
        assert sorted(solver.solve(problem)) == [(i,) for i in range(6)]


def test_solve_round_can_batch_with_pyvrp():
    rng = random.Random(2)
    orders = [order(i, drop_xy=(rng.uniform(-3, 3), rng.uniform(-3, 3))) for i in range(1, 8)]
    drivers = [driver(j, (rng.uniform(-4, 4), rng.uniform(-4, 4))) for j in range(1, 9)]
    config = EngineConfig(route_solver="pyvrp", pyvrp_time_limit_s=0.1)
    result = solve_round(orders, drivers, config, now=NOW)
    assert not result.unassigned
    assert len(result.assignments) < len(orders)
    for a in result.assignments:
        for o, at in zip(a.trip.orders, a.trip.stops, strict=True):
            assert at.eta_at <= o.dropoff_window_end
