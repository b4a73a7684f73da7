"""Deterministic, seeded dispatch instances for the engine benchmarks (no downloads).

A city is a square box (30 x 30 km at 1,000 orders, scaled to keep the density constant) with
~47 stores per 1,000 orders. Orders arrive at stores as a Poisson process whose rate has a lunch
and a dinner peak; given how many arrived, arrival times are independent draws from the rate
curve, which is how `city_round` samples them. An order is ready after a gamma-distributed prep
time; a round snapshot holds the orders that are ready or will be within 5 minutes. Drivers are
scattered over the box, with the preference mix the engine has to respect.

`store_burst` is the single-store burst of PERFORMANCE.md P4: one store, many orders ready at
once, wide drop-off windows, drivers around it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dispatch.engine.types import DriverIn, OrderIn

CENTER = (36.3729, -94.2088)  # any mid-latitude city centre works
KM_PER_DEG_LAT = 111.195
SIZES = {"S": (100, 200), "M": (1000, 2000), "L": (3000, 6000)}
DAY_START = 1_750_000_000.0  # a fixed epoch so instances are identical across runs
DINNER_PEAK_H = 18.5


@dataclass(frozen=True)
class Instance:
    orders: list[OrderIn]
    drivers: list[DriverIn]
    now: float
    side_km: float
    stores: list[tuple[int, float, float]]


def demand_rate(hour: np.ndarray) -> np.ndarray:
    """Relative order rate over the day: a base plus lunch (12:30) and dinner (18:30) peaks."""
    lunch = np.exp(-0.5 * ((hour - 12.5) / 1.0) ** 2)
    dinner = 1.4 * np.exp(-0.5 * ((hour - DINNER_PEAK_H) / 1.2) ** 2)
    return 0.25 + lunch + dinner


def sample_arrivals(rng: np.random.Generator, n: int, start_h: float, end_h: float) -> np.ndarray:
    """n arrival hours of a Poisson process with rate `demand_rate`, given that n arrived."""
    top = float(demand_rate(np.linspace(start_h, end_h, 200)).max())
    out: list[float] = []
    while len(out) < n:
        hours = rng.uniform(start_h, end_h, size=2 * n)
        keep = rng.uniform(0, top, size=2 * n) < demand_rate(hours)
        out.extend(hours[keep].tolist())
    return np.array(out[:n])


def to_latlng(x_km: np.ndarray, y_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = CENTER[0] + y_km / KM_PER_DEG_LAT
    lng = CENTER[1] + x_km / (KM_PER_DEG_LAT * math.cos(math.radians(CENTER[0])))
    return lat, lng


def lsa_reference_cost(n_orders: int, n_drivers: int, side_km: float) -> np.ndarray:
    """PERFORMANCE.md's reference for P1 (and the anchor that knows the reference machine):
    uniform random points in the box, the dense Euclidean km matrix that scipy's
    linear_sum_assignment solves in 13-14 ms at 1,000 x 2,000 there."""
    rng = np.random.default_rng(0)
    p_xy = rng.uniform(0.0, side_km, size=(n_orders, 2))
    d_xy = rng.uniform(0.0, side_km, size=(n_drivers, 2))
    return np.hypot(p_xy[:, None, 0] - d_xy[None, :, 0], p_xy[:, None, 1] - d_xy[None, :, 1])


def city_round(
    n_orders: int, n_drivers: int, seed: int, *, hour: float = DINNER_PEAK_H
) -> Instance:
    """A snapshot of one dispatch round at `hour` (default: the dinner peak)."""
    rng = np.random.default_rng(seed)
    side = 30.0 * math.sqrt(n_orders / 1000.0)
    n_stores = max(3, round(47 * n_orders / 1000.0))
    store_xy = rng.uniform(-side / 2 + 1.0, side / 2 - 1.0, size=(n_stores, 2))
    popularity = rng.lognormal(0.0, 0.5, size=n_stores)
    now = DAY_START + hour * 3600.0
    orders = _round_orders(rng, n_orders, store_xy, popularity / popularity.sum(), side, now, hour)
    drivers = _drivers(rng, n_drivers, side, store_xy)
    lat, lng = to_latlng(store_xy[:, 0], store_xy[:, 1])
    stores = [(i + 1, float(a), float(b)) for i, (a, b) in enumerate(zip(lat, lng, strict=True))]
    return Instance(orders=orders, drivers=drivers, now=now, side_km=side, stores=stores)


def _round_orders(
    rng: np.random.Generator,
    n: int,
    store_xy: np.ndarray,
    weights: np.ndarray,
    side: float,
    now: float,
    hour: float,
) -> list[OrderIn]:
    arrival_s, prep_s = np.empty(0), np.empty(0)
    while len(arrival_s) < n:  # keep the orders that are ready by now + 5 min, not long before
        arr = (sample_arrivals(rng, 4 * n, hour - 1.5, hour) - hour) * 3600.0 + now
        prep = rng.gamma(4.0, 4.0 * 60.0, size=4 * n)
        keep = (arr + prep <= now + 300.0) & (arr + prep >= now - 600.0)
        arrival_s, prep_s = (
            np.concatenate([arrival_s, arr[keep]]),
            np.concatenate([prep_s, prep[keep]]),
        )
    ready = arrival_s[:n] + prep_s[:n]
    store = rng.choice(len(store_xy), size=n, p=weights)
    return _orders(rng, store, store_xy, ready, side)


def _orders(
    rng: np.random.Generator,
    store: np.ndarray,
    store_xy: np.ndarray,
    ready: np.ndarray,
    side: float,
) -> list[OrderIn]:
    n = len(store)
    dist = np.minimum(rng.gamma(2.0, 2.0, size=n), 12.0)
    angle = rng.uniform(0, 2 * math.pi, size=n)
    half = side / 2
    drop_x = np.clip(store_xy[store, 0] + dist * np.cos(angle), -half, half)
    drop_y = np.clip(store_xy[store, 1] + dist * np.sin(angle), -half, half)
    s_lat, s_lng = to_latlng(store_xy[store, 0], store_xy[store, 1])
    d_lat, d_lng = to_latlng(drop_x, drop_y)
    start = ready + rng.uniform(0, 20 * 60, size=n)
    end = start + rng.choice([60 * 60, 120 * 60], size=n)
    route_miles = (
        np.hypot(drop_x - store_xy[store, 0], drop_y - store_xy[store, 1]) * 1.3 / 1.609344
    )
    pay = np.rint(400 + 130 * route_miles).astype(int)
    size = rng.choice([1, 1, 1, 2, 2, 3, 4], size=n)
    alcohol = rng.uniform(size=n) < 0.06
    return [
        OrderIn(
            id=i + 1,
            store_id=int(store[i]) + 1,
            pickup_lat=float(s_lat[i]),
            pickup_lng=float(s_lng[i]),
            dropoff_lat=float(d_lat[i]),
            dropoff_lng=float(d_lng[i]),
            ready_at=float(ready[i]),
            dropoff_window_start=float(start[i]),
            dropoff_window_end=float(end[i]),
            pay_cents=int(pay[i]),
            size_units=int(size[i]),
            contains_alcohol=bool(alcohol[i]),
        )
        for i in range(n)
    ]


def _drivers(rng: np.random.Generator, n: int, side: float, store_xy: np.ndarray) -> list[DriverIn]:
    """Drivers scattered over the box; those on a scheduled block wait at their block's store."""
    xy = rng.uniform(-side / 2, side / 2, size=(n, 2))
    on_block = rng.uniform(size=n) < 0.10
    station = store_xy[rng.integers(len(store_xy), size=n)] + rng.normal(0, 0.3, size=(n, 2))
    xy = np.where(on_block[:, None], station, xy)
    lat, lng = to_latlng(xy[:, 0], xy[:, 1])
    max_km = rng.choice([0.0, 0.0, 0.0, 0.0, 8.0, 10.0, 20.0], size=n)  # 0: platform default
    min_pay = rng.choice([0, 0, 0, 0, 0, 0, 100, 150, 200], size=n)
    capacity = rng.choice([6, 8, 10, 12, 16], size=n)
    is_21 = rng.uniform(size=n) < 0.88
    no_alcohol = rng.uniform(size=n) < 0.05
    hours = rng.uniform(0, 40, size=n)
    return [
        DriverIn(
            id=i + 1,
            lat=float(lat[i]),
            lng=float(lng[i]),
            is_21_plus=bool(is_21[i]),
            no_alcohol=bool(no_alcohol[i]),
            max_pickup_km=float(max_km[i]) if max_km[i] > 0 else None,
            min_pay_cents_per_mile=int(min_pay[i]),
            capacity_units=int(capacity[i]),
            hours_this_week=float(hours[i]),
            on_block=bool(on_block[i]),
        )
        for i in range(n)
    ]


def store_burst(seed: int, n_orders: int = 60, n_drivers: int = 120) -> Instance:
    """One store at the centre with `n_orders` ready at once (a lunch rush), drop-offs around it
    (mean 4 km), 1-2 hour drop-off windows from now, drivers within a 12 x 12 km box."""
    rng = np.random.default_rng(seed)
    now = DAY_START + 12.5 * 3600.0
    store_xy = np.zeros((1, 2))
    ready = now - rng.uniform(0, 120, size=n_orders)
    orders = _orders(rng, np.zeros(n_orders, dtype=int), store_xy, ready, 24.0)
    # the whole burst is due within the next one to two hours
    orders = [
        OrderIn(**{**_fields(o), "dropoff_window_start": now, "dropoff_window_end": end})
        for o, end in zip(orders, now + rng.uniform(60 * 60, 120 * 60, size=n_orders), strict=True)
    ]
    drivers = _drivers(rng, n_drivers, 12.0, store_xy)
    lat, lng = to_latlng(store_xy[:, 0], store_xy[:, 1])
    return Instance(orders, drivers, now, 12.0, [(1, float(lat[0]), float(lng[0]))])


def _fields(order: OrderIn) -> dict[str, object]:
    return {name: getattr(order, name) for name in OrderIn.__slots__}
