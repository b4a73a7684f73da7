"""The matching engine: pure Python + numpy/scipy, no Django. Start with `solve_round`."""

from dispatch.engine.batching import PickupEstimate, build_trips, plan_trip
from dispatch.engine.geo import EtaModel, HaversineEta
from dispatch.engine.insertion import InsertionSolver
from dispatch.engine.routing import PyVRPSolver, RouteSolver, RoutingProblem
from dispatch.engine.solve import solve_round
from dispatch.engine.types import (
    Assignment,
    DriverIn,
    EngineConfig,
    OrderIn,
    RoundResult,
    RoundStats,
    Stop,
    TripIn,
    TripPlan,
)

__all__ = [
    "Assignment",
    "DriverIn",
    "EngineConfig",
    "EtaModel",
    "HaversineEta",
    "InsertionSolver",
    "OrderIn",
    "PickupEstimate",
    "PyVRPSolver",
    "RoundResult",
    "RoundStats",
    "RouteSolver",
    "RoutingProblem",
    "Stop",
    "TripIn",
    "TripPlan",
    "build_trips",
    "plan_trip",
    "solve_round",
]
