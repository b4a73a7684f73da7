"""What the simulator knows about its people while the day runs (the database knows the rest).

Orders and drivers here are the simulated shop's and drivers' own view: which order is theirs,
its pickup code and PIN, where a driver is and what they are doing. Distances and times a driver
spends are measured here, because only the simulator moves the cars.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from spark.lib.actors import Actor
from spark.lib.geo import GreatCircleEta, Point
from spark.sim.world import DriverPlan, OrderPlan

CUSTOMER = "The customer cancelled the order."  # the shop's cancel reasons, as the report reads
NO_DRIVER = "No driver took the order in time."


@dataclass
class SimOrder:
    plan: OrderPlan
    id: int = 0
    public_id: str = ""
    pickup_code: str = ""
    pin: str = ""
    assigned: bool = False  # a driver accepted a trip with it
    picked_up: bool = False
    final: bool = False


@dataclass
class Move:
    """A drive without orders (back towards a store), interpolated when interrupted."""

    start: Point
    end: Point
    t0: float
    t1: float
    km: float

    def at(self, t: float) -> tuple[Point, float]:
        """Where the car is at `t`, and the share of the drive done."""
        f = 1.0 if self.t1 <= self.t0 else min(1.0, max(0.0, (t - self.t0) / (self.t1 - self.t0)))
        lat = self.start.lat + (self.end.lat - self.start.lat) * f
        lng = self.start.lng + (self.end.lng - self.start.lng) * f
        return Point(round(lat, 6), round(lng, 6)), f


@dataclass
class TripRun:
    trip_id: int
    store: int
    key: int  # the sim index of its first order: names the trip's chance draws
    orders: list[int] = field(default_factory=list)  # order ids, in stop order
    stop: int = 0
    failed: list[int] = field(default_factory=list)  # undeliverable: back to the store


@dataclass
class SimDriver:
    plan: DriverPlan
    id: int
    where: Point
    online: bool = False
    leaving: bool = False
    move: Move | None = None
    trip: TripRun | None = None
    offer_until: float = -1.0  # an open offer waits for this driver's answer until then
    last_ping: float = -1e9
    online_since: float = 0.0
    online_s: float = 0.0
    busy_since: float = 0.0
    busy_s: float = 0.0
    km_loaded: float = 0.0
    km_empty: float = 0.0

    def position(self, t: float) -> Point:
        return self.move.at(t)[0] if self.move else self.where

    def stop_moving(self, t: float) -> None:
        if self.move is not None:
            self.where, done = self.move.at(t)
            self.km_empty += self.move.km * done
            self.move = None

    def idle(self, t: float) -> bool:
        return self.online and self.trip is None and t >= self.offer_until


class Agenda:
    """The simulated future: (time, then insertion order) -> what happens."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[..., None], tuple]] = []
        self._seq = itertools.count()

    def at(self, t: float, fn: Callable[..., None], *args: object) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), fn, args))

    def pop(self) -> tuple[float, Callable[..., None], tuple]:
        t, _, fn, args = heapq.heappop(self._heap)
        return t, fn, args

    def __bool__(self) -> bool:
        return bool(self._heap)


def travel(eta: GreatCircleEta, a: Point, b: Point) -> tuple[float, float]:
    """(road km, seconds) of a drive at the market's speed."""
    return eta.road_km(a, b), eta.travel_seconds(a, b)


def driver_actor(d: SimDriver) -> Actor:
    return Actor(label=f"driver:{d.id}")
