"""The seeded world of a simulated day: when orders come and where they go, when drivers work
and what they accept. Pure numpy, no Django: the same seed gives the same world.

Demand is a Poisson process whose rate has a lunch (12:30) and a dinner (18:30) peak; given how
many orders arrive, their times are independent draws from the rate curve. Each order goes to one
of the market's stores and to a drop-off a few km around it. Supply follows demand: each driver
works one shift that starts a little before a draw from the same curve. A driver accepts an offer
with a probability that grows with its pay per engaged mile around the driver's own threshold.

Decisions that depend on what happens during the day (does this driver take this offer?) are not
drawn from a shared stream, whose order would depend on the database: `chance()` hashes the seed
with the decision's own key, so each answer is fixed whatever happens around it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

KM_PER_DEG_LAT = 111.195
DROPOFF_MAX_KM = 10.0  # the demo stores deliver within 12 km
SHIFT_HOURS = (3.0, 6.0)
LATE_SHIFT_HOURS = 0.75  # drivers may work this long past the last order, to finish the day


@dataclass(frozen=True, slots=True)
class OrderPlan:
    index: int
    store: int  # index into the market's stores
    created_s: float  # seconds from the start of the day
    prep_s: float  # created -> packed and marked ready
    dropoff_lat: float
    dropoff_lng: float
    value_cents: int
    tip_cents: int
    quantity: int
    contains_alcohol: bool
    pin_required: bool
    cancel_after_s: float | None  # the customer cancels this long after ordering (if possible)
    undeliverable: bool  # nobody at the door: the order goes back to the store
    door_s: float  # the hand-off at the door


@dataclass(frozen=True, slots=True)
class DriverPlan:
    index: int
    start_s: float
    end_s: float
    lat: float
    lng: float
    threshold_cpm: float  # pay per engaged mile (cents) the driver takes half the time
    is_21_plus: bool
    no_alcohol: bool


@dataclass(frozen=True)
class World:
    seed: int
    hours: float
    start_hour: float  # local time of day the simulated day starts
    orders: tuple[OrderPlan, ...]
    drivers: tuple[DriverPlan, ...]


def demand_rate(hour: np.ndarray) -> np.ndarray:
    """Relative order rate over the day: a base plus lunch (12:30) and dinner (18:30) peaks."""
    lunch = np.exp(-0.5 * ((hour - 12.5) / 1.0) ** 2)
    dinner = 1.4 * np.exp(-0.5 * ((hour - 18.5) / 1.2) ** 2)
    return 0.25 + lunch + dinner


def start_hour_for(hours: float) -> float:
    """A day of 10 hours or more starts at 9:00 (both peaks); a shorter one is lunch-centred."""
    return 9.0 if hours >= 10 else 12.5 - hours / 2


def sample_hours(rng: np.random.Generator, n: int, start_h: float, end_h: float) -> np.ndarray:
    """n arrival times (local hours) of a Poisson process with rate `demand_rate`, given n."""
    top = float(demand_rate(np.linspace(start_h, end_h, 400)).max())
    out: list[float] = []
    while len(out) < n:
        hours = rng.uniform(start_h, end_h, size=2 * n + 10)
        keep = rng.uniform(0, top, size=len(hours)) < demand_rate(hours)
        out.extend(hours[keep].tolist())
    return np.sort(np.array(out[:n]))


def offset(lat: float, lng: float, east_km: np.ndarray, north_km: np.ndarray) -> tuple:
    lat_out = lat + north_km / KM_PER_DEG_LAT
    lng_out = lng + east_km / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lat_out, lng_out


def build(
    *,
    seed: int,
    n_orders: int,
    n_drivers: int,
    hours: float,
    stores: list[tuple[float, float]],
    centre: tuple[float, float],
) -> World:
    rng = np.random.default_rng(seed)
    start = start_hour_for(hours)
    orders = _orders(rng, n_orders, hours, start, stores)
    drivers = _drivers(rng, n_drivers, hours, start, stores, centre)
    return World(seed=seed, hours=hours, start_hour=start, orders=orders, drivers=drivers)


def _orders(
    rng: np.random.Generator,
    n: int,
    hours: float,
    start: float,
    stores: list[tuple[float, float]],
) -> tuple[OrderPlan, ...]:
    created = (sample_hours(rng, n, start, start + hours) - start) * 3600.0
    popularity = rng.lognormal(0.0, 0.3, size=len(stores))
    store = rng.choice(len(stores), size=n, p=popularity / popularity.sum())
    dist = np.minimum(rng.gamma(2.0, 1.8, size=n), DROPOFF_MAX_KM)
    angle = rng.uniform(0, 2 * math.pi, size=n)
    prep = 180.0 + rng.gamma(4.0, 150.0, size=n)  # 3 min + ~10 min of picking and packing
    value = rng.integers(1500, 15000, size=n)
    tips = np.where(rng.uniform(size=n) < 0.75, rng.choice([200, 300, 400, 500, 800], size=n), 0)
    quantity = rng.integers(1, 9, size=n)
    alcohol = rng.uniform(size=n) < 0.05
    pin = rng.uniform(size=n) < 0.10
    cancels = rng.uniform(size=n) < 0.02
    cancel_after = rng.uniform(3 * 60, 25 * 60, size=n)
    undeliverable = rng.uniform(size=n) < 0.005
    door = rng.uniform(60, 180, size=n)
    out = []
    for i in range(n):
        s_lat, s_lng = stores[int(store[i])]
        lat, lng = offset(s_lat, s_lng, dist[i] * math.cos(angle[i]), dist[i] * math.sin(angle[i]))
        out.append(
            OrderPlan(
                index=i,
                store=int(store[i]),
                created_s=float(created[i]),
                prep_s=float(prep[i]),
                dropoff_lat=round(float(lat), 6),
                dropoff_lng=round(float(lng), 6),
                value_cents=int(value[i]),
                tip_cents=int(tips[i]),
                quantity=int(quantity[i]),
                contains_alcohol=bool(alcohol[i]),
                pin_required=bool(pin[i]),
                cancel_after_s=float(cancel_after[i]) if cancels[i] else None,
                undeliverable=bool(undeliverable[i]) and not cancels[i],
                door_s=float(door[i]),
            )
        )
    return tuple(out)


def _drivers(
    rng: np.random.Generator,
    n: int,
    hours: float,
    start: float,
    stores: list[tuple[float, float]],
    centre: tuple[float, float],
) -> tuple[DriverPlan, ...]:
    """Shifts start up to an hour before a draw from the demand curve and last 3-6 hours."""
    peak = sample_hours(rng, n, start, start + hours) - start
    lead = rng.uniform(0.25, 1.0, size=n)
    begin = np.clip(peak - lead - rng.uniform(0, 1.5, size=n), 0.0, max(0.0, hours - 0.5))
    length = rng.uniform(*SHIFT_HOURS, size=n)
    end = np.minimum(begin + length, hours + LATE_SHIFT_HOURS)
    near_store = rng.uniform(size=n) < 0.6
    which = rng.integers(len(stores), size=n)
    spread = np.where(near_store, 2.0, 8.0)
    east, north = rng.normal(0, 1, size=n) * spread, rng.normal(0, 1, size=n) * spread
    threshold = np.clip(rng.normal(160.0, 45.0, size=n), 60.0, 320.0)
    is_21 = rng.uniform(size=n) < 0.9
    no_alcohol = rng.uniform(size=n) < 0.05
    out = []
    for j in range(n):
        base = stores[int(which[j])] if near_store[j] else centre
        lat, lng = offset(base[0], base[1], east[j], north[j])
        out.append(
            DriverPlan(
                index=j,
                start_s=float(begin[j] * 3600.0),
                end_s=float(end[j] * 3600.0),
                lat=round(float(lat), 6),
                lng=round(float(lng), 6),
                threshold_cpm=float(threshold[j]),
                is_21_plus=bool(is_21[j]),
                no_alcohol=bool(no_alcohol[j]),
            )
        )
    return tuple(out)


def chance(seed: int, *key: object) -> float:
    """A uniform [0, 1) draw fixed by the seed and the decision's key (see the module doc)."""
    digest = hashlib.blake2b(repr((seed, *key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def accept_probability(cents_per_mile: float, threshold_cpm: float) -> float:
    return 1.0 / (1.0 + math.exp(-(cents_per_mile - threshold_cpm) / 30.0))
