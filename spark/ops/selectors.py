"""The ops console's reads, composed from the apps' public selectors: a market right now
(supply, demand, the map), the queues that wait on ops, and one order's dispatch story."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dispatch import selectors as dispatch_selectors
from orders import selectors as order_selectors
from spark.ops import maps

WITH_DRIVER = ("assigned", "at_store", "in_progress")  # dispatch's trip statuses with a driver
LOCATION_STALE = timedelta(minutes=10)

# Open orders by stage, as the console groups them (statuses are orders').
STAGES = [
    ("new", "New", ("created",)),
    ("waiting", "Waiting for a driver", ("ready_for_pickup", "offered")),
    ("assigned", "Driver on the way", ("driver_assigned", "driver_at_store")),
    ("on_road", "On the road", ("picked_up", "driver_at_dropoff")),
    ("problem", "Undeliverable", ("undeliverable", "returning")),
]
STAGE_OF = {status: key for key, _, statuses in STAGES for status in statuses}


@dataclass
class MarketNow:
    market: Any
    now: datetime
    online: int
    free: int
    busy: int
    open_offers: int
    orders_by_stage: list[tuple[str, str, int]]
    late: int
    map: maps.SvgMap | None
    stores: list[Any] = field(default_factory=list)
    by_store: list[tuple[Any, int, int]] = field(default_factory=list)  # store, open, waiting

    @property
    def waiting(self) -> int:
        return next(n for key, _, n in self.orders_by_stage if key == "waiting")

    @property
    def open_orders(self) -> int:
        return sum(n for _, _, n in self.orders_by_stage)

    @property
    def drivers_per_waiting_order(self) -> float | None:
        return round(self.free / self.waiting, 1) if self.waiting else None


def market_now(*, market: Any, now: datetime, with_map: bool = True) -> MarketNow:
    stores = list(order_selectors.store_list_for_market(market_id=market.id))
    online = list(dispatch_selectors.availability_list_online(market_id=market.id))
    busy_ids = set(
        dispatch_selectors.trip_queryset()
        .filter(market_id=market.id, status__in=WITH_DRIVER)
        .values_list("driver_id", flat=True)
    )
    orders = list(order_selectors.order_list_open_for_market(market_id=market.id))
    counts = {key: 0 for key, _, _ in STAGES}
    for order in orders:
        counts[STAGE_OF[order.status]] += 1
    open_offers = (
        dispatch_selectors.offer_queryset()
        .filter(trip__market_id=market.id, status="open", expires_at__gt=now)
        .count()
    )
    busy_online = sum(1 for a in online if a.driver_id in busy_ids)
    return MarketNow(
        market=market,
        now=now,
        online=len(online),
        free=len(online) - busy_online,
        busy=len(busy_ids),
        open_offers=open_offers,
        orders_by_stage=[(key, label, counts[key]) for key, label, _ in STAGES],
        late=sum(1 for o in orders if now > o.dropoff_window_end and o.status in _BEFORE_DOOR),
        map=_map(market, stores, online, busy_ids, orders, now) if with_map else None,
        stores=stores,
        by_store=_by_store(stores, orders),
    )


def _by_store(stores: list, orders: list) -> list[tuple[Any, int, int]]:
    rows = []
    for store in stores:
        mine = [o for o in orders if o.store_id == store.id]
        waiting = sum(1 for o in mine if STAGE_OF[o.status] == "waiting")
        rows.append((store, len(mine), waiting))
    return rows


_BEFORE_DOOR = frozenset(s for key, _, statuses in STAGES if key != "problem" for s in statuses)


def _map(
    market: Any, stores: list, online: list, busy_ids: set, orders: list, now: datetime
) -> maps.SvgMap:
    markers = [maps.Marker("store", s.lat, s.lng, s.name) for s in stores]
    for a in online:
        if a.lat is None or a.lng is None:
            continue
        stale = a.location_at is None or now - a.location_at > LOCATION_STALE
        kind = "driver-busy" if a.driver_id in busy_ids else "driver-free"
        label = f"Driver {a.driver_id}{' (on a trip)' if a.driver_id in busy_ids else ''}"
        markers.append(maps.Marker(kind + (" stale" if stale else ""), a.lat, a.lng, label))
    for o in orders:
        late = " late" if now > o.dropoff_window_end and o.status in _BEFORE_DOOR else ""
        label = f"Order {o.external_order_id} ({o.status.replace('_', ' ')})"
        markers.append(
            maps.Marker(f"order-{STAGE_OF[o.status]}{late}", o.dropoff_lat, o.dropoff_lng, label)
        )
    return maps.build(markers, centre=(market.centre_lat, market.centre_lng))


# --- queues that wait on ops --------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    title: str
    detail: str
    since: datetime | None
    admin_url: str = ""


@dataclass
class Queue:
    key: str
    title: str
    items: list[QueueItem]
    total: int
    note: str = ""
    available: bool = True

    @property
    def oldest(self) -> datetime | None:
        times = [i.since for i in self.items if i.since]
        return min(times) if times else None


QUEUE_LIMIT = 25


# --- one order's dispatch story -------------------------------------------------------------

TERM_LABELS = {
    "pickup_eta_s": "Drive to the store (s)",
    "lateness_risk": "Lateness risk (expected s late)",
    "fairness": "Fairness (fewer hours this week)",
    "block_bonus": "Block bonus (on a scheduled block)",
}


@dataclass(frozen=True)
class OfferWhy:
    """An offer with why its driver was chosen: the engine's cost terms, in seconds, where
    cost = pickup_eta_s + lateness_risk + fairness - block_bonus (lower is better) and rank is
    the driver's place among the trip's candidates by that cost."""

    offer: Any
    driver_name: str
    policy: str
    rank: int | None
    cost: float | None
    terms: list[tuple[str, str, float]]
    extra: dict

    @classmethod
    def of(cls, offer: Any) -> "OfferWhy":
        reason = dict(offer.reason or {})
        terms = reason.pop("terms", {}) or {}
        user = offer.driver.user
        return cls(
            offer=offer,
            driver_name=user.get_full_name() or user.get_username(),
            policy=str(reason.pop("policy", "")),
            rank=reason.pop("rank", None),
            cost=reason.pop("cost", None),
            terms=[(k, TERM_LABELS.get(k, k), terms[k]) for k in _term_order(terms)],
            extra=reason,
        )


def _term_order(terms: dict) -> list[str]:
    """The cost formula's order first, then anything newer the engine adds."""
    return [k for k in TERM_LABELS if k in terms] + sorted(k for k in terms if k not in TERM_LABELS)
