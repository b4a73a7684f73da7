"""Columnar views of trips and drivers, the KD-tree driver index, and candidate arcs.

Each trip gets the nearest eligible drivers of its store: `k_nearest` plus one per other trip at
the same store (those trips compete for the same drivers), all within the driver's max pickup
km. Drivers are found with a cKDTree over a local equirectangular projection, queried once per
store, so memory and time grow with the number of candidate arcs, never with trips x drivers.

Hard constraints, applied to every arc (and so never violated by any policy):
  - road km to the store <= the driver's max pickup km;
  - trip pay / engaged miles (drive to the store + trip route) >= the driver's minimum per mile;
  - alcohol only to drivers who are 21+ and have not opted out (no_alcohol);
  - trip size <= the driver's vehicle capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from dispatch.engine.geo import EtaModel, LocalProjection
from dispatch.engine.types import KM_PER_MILE, DriverIn, EngineConfig, TripPlan

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

_FAR_KM = 1e18  # padding: an end of window that is never reached


@dataclass(frozen=True, slots=True, eq=False)
class DriverArrays:
    ids: IntArray
    lat: FloatArray
    lng: FloatArray
    max_km: FloatArray
    min_cents_per_mile: FloatArray
    may_carry_alcohol: BoolArray  # 21+ and not opted out
    capacity: IntArray
    hours: FloatArray
    on_block: BoolArray

    @classmethod
    def build(cls, drivers: Sequence[DriverIn], config: EngineConfig) -> DriverArrays:
        def col(name: str, dtype: type) -> NDArray:
            return np.fromiter((getattr(d, name) for d in drivers), dtype=dtype, count=len(drivers))

        max_km = [
            config.max_pickup_km if d.max_pickup_km is None else d.max_pickup_km for d in drivers
        ]
        return cls(
            ids=col("id", np.int64),
            lat=col("lat", np.float64),
            lng=col("lng", np.float64),
            max_km=np.array(max_km, dtype=np.float64),
            min_cents_per_mile=col("min_pay_cents_per_mile", np.float64),
            may_carry_alcohol=col("is_21_plus", np.bool_) & ~col("no_alcohol", np.bool_),
            capacity=col("capacity_units", np.int64),
            hours=col("hours_this_week", np.float64),
            on_block=col("on_block", np.bool_),
        )

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True, eq=False)
class TripArrays:
    """Per trip: its store (an index into `store_lat/lng`), limits, and a schedule in max-plus form.

    A drop-off j is served at max(departure + offset[:, j], floor[:, j]) for a departure from the
    store at `departure`; waits for a window to open make this exact. Padded columns never
    run late.
    """

    store: IntArray
    store_lat: FloatArray
    store_lng: FloatArray
    ready_at: FloatArray
    size: IntArray
    alcohol: BoolArray
    pay_cents: FloatArray
    route_km: FloatArray
    offset: FloatArray  # (n, N)
    floor: FloatArray  # (n, N)
    window_end: FloatArray  # (n, N)
    trips_at_store: IntArray  # (n,) how many trips share this trip's store
    n_orders: IntArray  # (n,) orders on the trip
    order_ready: FloatArray  # (n, N) each order's ready_at, in stop order; padding: +inf

    @classmethod
    def build(cls, trips: Sequence[TripPlan], config: EngineConfig) -> TripArrays:
        points: dict[tuple[float, float], int] = {}
        store = [points.setdefault((t.pickup_lat, t.pickup_lng), len(points)) for t in trips]
        width = max((len(t.orders) for t in trips), default=1)
        offset, floor = np.zeros((len(trips), width)), np.zeros((len(trips), width))
        window_end = np.full((len(trips), width), _FAR_KM)
        order_ready = np.full((len(trips), width), np.inf)
        for i, trip in enumerate(trips):
            _schedule_row(trip, config, offset[i], floor[i], window_end[i])
            order_ready[i, : len(trip.orders)] = [o.ready_at for o in trip.orders]
        store_arr = np.array(store, dtype=np.int64)
        return cls(
            store=store_arr,
            store_lat=np.array([p[0] for p in points], dtype=np.float64),
            store_lng=np.array([p[1] for p in points], dtype=np.float64),
            ready_at=np.array([t.ready_at for t in trips], dtype=np.float64),
            size=np.array([t.size_units for t in trips], dtype=np.int64),
            alcohol=np.array([t.contains_alcohol for t in trips], dtype=np.bool_),
            pay_cents=np.array([t.pay_cents for t in trips], dtype=np.float64),
            route_km=np.array([t.route_km for t in trips], dtype=np.float64),
            offset=offset,
            floor=floor,
            window_end=window_end,
            trips_at_store=np.bincount(store_arr, minlength=len(points))[store_arr],
            n_orders=np.array([len(t.orders) for t in trips], dtype=np.int64),
            order_ready=order_ready,
        )

    def __len__(self) -> int:
        return len(self.store)


def _schedule_row(
    trip: TripPlan, config: EngineConfig, offset: FloatArray, floor: FloatArray, end: FloatArray
) -> None:
    """Max-plus coefficients of the trip's drop-offs from its legs and windows."""
    t_off, t_floor = 0.0, -np.inf
    for j, (stop, order) in enumerate(zip(trip.stops, trip.orders, strict=True)):
        leg_s = stop.leg_s
        t_off, t_floor = t_off + leg_s, max(t_floor + leg_s, order.dropoff_window_start)
        offset[j], floor[j], end[j] = t_off, t_floor, order.dropoff_window_end
        t_off += config.handoff_dropoff_s
        t_floor += config.handoff_dropoff_s


@dataclass(frozen=True, slots=True, eq=False)
class Arcs:
    trip: IntArray
    driver: IntArray
    pickup_km: FloatArray
    pickup_s: FloatArray

    def __len__(self) -> int:
        return len(self.trip)

    def concat(self, other: Arcs) -> Arcs:
        """Union, keeping the first copy of a duplicated (trip, driver) pair."""
        trip = np.concatenate([self.trip, other.trip])
        driver = np.concatenate([self.driver, other.driver])
        _, first = np.unique(trip * (int(driver.max(initial=0)) + 1) + driver, return_index=True)
        first.sort()
        return Arcs(
            trip=trip[first],
            driver=driver[first],
            pickup_km=np.concatenate([self.pickup_km, other.pickup_km])[first],
            pickup_s=np.concatenate([self.pickup_s, other.pickup_s])[first],
        )


class DriverIndex:
    """Nearest drivers to points, in road km of the ETA model."""

    def __init__(self, drivers: DriverArrays, eta: EtaModel) -> None:
        self.drivers = drivers
        self.eta = eta
        self.projection = LocalProjection.around(drivers.lat, drivers.lng)
        self.tree = cKDTree(self.projection.xy(drivers.lat, drivers.lng)) if len(drivers) else None
        max_km = float(drivers.max_km.max(initial=0.0))
        # straight-line radius; 1 % + 10 m covers the projection's error across a city
        self.radius = max_km / eta.detour_lower_bound * 1.01 + 0.01

    def nearest(
        self, lat: FloatArray, lng: FloatArray, k: int
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        """(P, k) driver indices, road km and seconds, nearest first; missing: index 0, km inf."""
        points = len(lat)
        k = min(k, len(self.drivers))
        if self.tree is None or k == 0 or points == 0:
            empty = np.zeros((points, 0))
            return empty.astype(np.int64), empty, empty
        dist, idx = self.tree.query(
            self.projection.xy(lat, lng), k=k, distance_upper_bound=self.radius
        )
        dist, idx = dist.reshape(points, k), idx.reshape(points, k)
        found = np.isfinite(dist)
        idx = np.where(found, idx, 0)
        d = self.drivers
        km, secs = self.eta.legs(d.lat[idx], d.lng[idx], lat[:, None], lng[:, None])
        return idx, np.where(found, km, np.inf), np.where(found, secs, np.inf)


def eligible(
    trips: TripArrays,
    drivers: DriverArrays,
    trip: IntArray,
    driver: IntArray,
    pickup_km: FloatArray,
) -> BoolArray:
    """The hard constraints (module docstring), elementwise over (trip, driver) pairs."""
    # missing neighbours have inf km: keep them finite so 0 cents/mile x miles stays 0
    engaged_miles = (np.minimum(pickup_km, 1e12) + trips.route_km[trip]) / KM_PER_MILE
    return (
        (pickup_km <= drivers.max_km[driver])
        & (trips.size[trip] <= drivers.capacity[driver])
        & (~trips.alcohol[trip] | drivers.may_carry_alcohol[driver])
        & (trips.pay_cents[trip] + 1e-9 >= drivers.min_cents_per_mile[driver] * engaged_miles)
    )


def candidate_arcs(
    trips: TripArrays, index: DriverIndex, subset: IntArray, per_trip_k: IntArray
) -> Arcs:
    """Up to per_trip_k[i] nearest eligible drivers for each trip in `subset`."""
    if len(subset) == 0 or len(index.drivers) == 0:
        return _no_arcs()
    query_k = int(per_trip_k.max()) + int(np.median(per_trip_k))  # room for ineligible drivers
    stores = np.unique(trips.store[subset])
    idx, km, secs = index.nearest(trips.store_lat[stores], trips.store_lng[stores], query_k)
    row_of_store = np.full(len(trips.store_lat), -1, dtype=np.int64)
    row_of_store[stores] = np.arange(len(stores))
    rows = row_of_store[trips.store[subset]]
    trip_grid = np.broadcast_to(subset[:, None], (len(subset), idx.shape[1]))
    drv, km_grid, s_grid = idx[rows], km[rows], secs[rows]
    ok = eligible(trips, index.drivers, trip_grid, drv, km_grid)  # inf km fails max_km
    ok &= np.cumsum(ok, axis=1) <= per_trip_k[:, None]
    return Arcs(trip=trip_grid[ok], driver=drv[ok], pickup_km=km_grid[ok], pickup_s=s_grid[ok])


def _no_arcs() -> Arcs:
    return Arcs(
        trip=np.zeros(0, dtype=np.int64),
        driver=np.zeros(0, dtype=np.int64),
        pickup_km=np.zeros(0),
        pickup_s=np.zeros(0),
    )


def reverse_arcs(
    trips: TripArrays, index: DriverIndex, drivers: IntArray, stores_k: int, per_store: int
) -> Arcs:
    """Arcs from each driver in `drivers` to `per_store` trips at each of its `stores_k` nearest
    stores. Trips of one store share their candidate lists, so one arc per store is enough to
    let the matcher route a far driver to that store and free a nearer one for another store."""
    if len(drivers) == 0 or len(trips) == 0:
        return _no_arcs()
    points = LocalProjection(index.projection.lat0, index.projection.lng0)
    tree = cKDTree(points.xy(trips.store_lat, trips.store_lng))
    d = index.drivers
    k = min(stores_k, len(trips.store_lat))
    dist, near = tree.query(
        points.xy(d.lat[drivers], d.lng[drivers]), k=k, distance_upper_bound=index.radius
    )
    dist, near = dist.reshape(len(drivers), k), near.reshape(len(drivers), k)
    found = np.isfinite(dist)
    drv, store = np.broadcast_to(drivers[:, None], near.shape)[found], near[found]
    by_store = np.argsort(trips.store, kind="stable")
    first = np.searchsorted(trips.store[by_store], np.arange(len(trips.store_lat)))
    count = np.bincount(trips.store, minlength=len(trips.store_lat))
    take = np.minimum(count[store], per_store)
    drv, store = np.repeat(drv, take), np.repeat(store, take)
    j = np.arange(len(drv)) - np.repeat(np.cumsum(take) - take, take)
    trip = by_store[first[store] + (drv + j) % count[store]]
    km, secs = index.eta.legs(
        d.lat[drv], d.lng[drv], trips.store_lat[store], trips.store_lng[store]
    )
    ok = eligible(trips, d, trip, drv, km)
    return Arcs(trip=trip[ok], driver=drv[ok], pickup_km=km[ok], pickup_s=secs[ok])
