"""Plain, frozen inputs and outputs of the matching engine (no Django, no ORM).

Times are float epoch seconds, distances are road km (as reported by the `EtaModel`), money is
integer cents. The dispatch layer converts model rows into `OrderIn`/`DriverIn`, calls
`solve_round`, and turns each `Assignment` into an Offer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

KM_PER_MILE = 1.609344

Policy = Literal["optimal", "greedy"]


@dataclass(frozen=True, slots=True)
class OrderIn:
    """One order that is ready (or will be by the time a driver arrives) at its store."""

    id: int
    store_id: int
    pickup_lat: float
    pickup_lng: float
    dropoff_lat: float
    dropoff_lng: float
    ready_at: float
    dropoff_window_start: float
    dropoff_window_end: float
    pay_cents: int  # what the driver earns for this order when it is delivered alone
    size_units: int = 1
    contains_alcohol: bool = False


@dataclass(frozen=True, slots=True)
class DriverIn:
    """An online, approved driver with a known position and the driver's own preferences."""

    id: int
    lat: float
    lng: float
    is_21_plus: bool = False
    no_alcohol: bool = False
    max_pickup_km: float | None = None  # None: EngineConfig.max_pickup_km
    min_pay_cents_per_mile: int = 0  # over engaged miles: the drive to the store plus the trip
    capacity_units: int = 20
    hours_this_week: float = 0.0
    on_block: bool = False  # on a scheduled block (Flex style): gets trips first


@dataclass(frozen=True, slots=True)
class TripIn:
    """A trip formed by the caller (e.g. a declined trip re-offered with boosted pay)."""

    orders: tuple[OrderIn, ...]
    pay_cents: int | None = None  # None: the sum of the orders' pay


@dataclass(frozen=True, slots=True)
class Stop:
    """A drop-off, in visiting order. `eta_at` assumes the planned departure from the store."""

    order_id: int
    lat: float
    lng: float
    leg_km: float  # from the previous stop (the store for the first drop-off)
    leg_s: float  # drive seconds of that leg
    eta_at: float


@dataclass(frozen=True, slots=True)
class TripPlan:
    """One or more orders from one store, with the drop-offs in the order they are driven."""

    key: str  # stable: "<store_id>:<sorted order ids>"
    store_id: int
    pickup_lat: float
    pickup_lng: float
    orders: tuple[OrderIn, ...]  # in stop order
    stops: tuple[Stop, ...]
    route_km: float  # store -> last drop-off (the engaged miles before the drive to the store)
    route_s: float  # drive, hand-offs and waits from leaving the store to the last hand-off
    ready_at: float  # the latest ready_at of its orders: the earliest departure
    departs_at: float  # planned departure (assumes a typical pickup ETA)
    pay_cents: int
    size_units: int
    contains_alcohol: bool

    @property
    def order_ids(self) -> tuple[int, ...]:
        return tuple(order.id for order in self.orders)


@dataclass(frozen=True, slots=True)
class Assignment:
    """A trip given to one driver: what the dispatch layer turns into an Offer."""

    trip: TripPlan
    driver_id: int
    cost: float
    terms: dict[str, float] = field(
        hash=False
    )  # pickup_eta_s, lateness_risk, fairness, block_bonus
    rank: int  # 1 = the cheapest of this trip's candidate drivers
    pickup_km: float
    engaged_km: float  # pickup_km + trip.route_km
    pickup_at: float  # ETA at the store
    dropoff_at: tuple[float, ...]  # ETA at each stop, in stop order

    @property
    def pay_cents_per_mile(self) -> float:
        miles = self.engaged_km / KM_PER_MILE
        return self.trip.pay_cents / miles if miles > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class RoundStats:
    policy: str
    orders: int
    drivers: int
    trips: int
    candidate_arcs: int
    batching_ms: float
    solve_ms: float  # candidates + costs + assignment
    total_ms: float
    held: int = 0  # ready orders held back for a batch partner


@dataclass(frozen=True, slots=True)
class RoundResult:
    assignments: tuple[Assignment, ...]
    unassigned: tuple[TripPlan, ...]
    stats: RoundStats
    held: tuple[int, ...] = ()  # ids of ready orders held back this round (in no trip)

    @property
    def unassigned_keys(self) -> tuple[str, ...]:
        return tuple(trip.key for trip in self.unassigned)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Tunables. Cost terms are in seconds so they add up with the pickup ETA."""

    speed_kmh: float = 30.0
    detour_factor: float = 1.3
    k_nearest: int = 8  # candidate drivers per trip, plus one per other trip at the same store
    max_pickup_km: float = 15.0  # for drivers who did not set their own
    handoff_pickup_s: float = 120.0
    handoff_dropoff_s: float = 60.0
    # lateness risk: expected seconds late against the drop-off window end, ETA error ~ Normal
    lateness_weight: float = 1.0
    eta_sigma_fraction: float = 0.15  # std of the ETA error as a share of the drive time
    eta_sigma_min_s: float = 60.0
    # fairness: a discount of up to fairness_weight_s for a driver with no hours this week
    fairness_weight_s: float = 15.0
    fairness_hours_cap: float = 40.0
    block_bonus_s: float = 30.0  # subtracted for drivers on a scheduled block
    # leaving a trip without a driver: per order, times 1 + (its wait - waiting_grace_s) /
    # waiting_scale_s once it has waited longer than the grace (waiting_scale_s 0: never)
    unassigned_penalty_s: float = 1_000_000.0
    waiting_grace_s: float = 900.0
    waiting_scale_s: float = 900.0
    greedy_arcs: bool = True  # add the greedy FIFO solution's arcs to the candidate graph
    # tight markets (at least refine_min_load trips per driver): each driver also gets arcs to
    # reverse_per_store trips of each of its reverse_stores_k nearest stores, then column
    # generation: up to refine_passes rounds of pricing lists expand_factor times longer
    refine_min_load: float = 0.5
    reverse_stores_k: int = 8
    reverse_per_store: int = 1
    refine_passes: int = 3
    expand_factor: int = 3
    # batching
    max_stops_per_trip: int = 4
    batch_capacity_units: int = 10  # largest batch size in units (a typical car)
    batch_pickup_km: float | None = None  # a trip's drive to the store; None: from nearby drivers
    # holding: a ready order waits (up to hold_max_s after it was ready; 0: never) for an order
    # of its store that will be ready within hold_horizon_s, when the two make a trip that pays
    hold_horizon_s: float = 480.0
    hold_max_s: float = 600.0
    route_solver: Literal["insertion", "pyvrp"] = "insertion"  # when solve_round gets none
    pyvrp_time_limit_s: float = 0.2  # per store with more than one order
    seed: int = 0
