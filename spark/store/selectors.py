"""The store dashboard's reads, composed from the apps' selectors: the board, proof of delivery.

Nothing here writes. Every read is scoped by a store the caller has already checked.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatch import selectors as dispatch_selectors
from orders import selectors as order_selectors
from spark.lib.geo import Point, haversine_km
from spark.store import texts

# A packed order with no driver after this long needs a look (call ops, or hand it out).
UNASSIGNED_TOO_LONG = timedelta(minutes=15)
UNDELIVERABLE = frozenset({"undeliverable", "returning"})
OPEN_BEFORE_PICKUP = frozenset(
    {"created", "ready_for_pickup", "offered", "driver_assigned", "driver_at_store"}
)
POD_STATUSES = ("delivered", "undeliverable", "returning", "returned_to_store")


@dataclass
class Card:
    order: Any
    flags: list[str] = field(default_factory=list)
    held: bool = False  # dispatch waits a little to send it with an order still being packed

    @property
    def flag_labels(self) -> list[str]:
        return [texts.FLAGS[f] for f in self.flags]


@dataclass
class Stage:
    key: str
    label: str
    cards: list[Card] = field(default_factory=list)


@dataclass
class Board:
    now: datetime
    stages: list[Stage]
    exceptions: list[Card]
    closed: list[Card]

    @property
    def open_count(self) -> int:
        return sum(len(s.cards) for s in self.stages if s.key != "delivered")


def local_day_start(now: datetime, tz_name: str) -> datetime:
    local = now.astimezone(ZoneInfo(tz_name))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def flags_for(order: Any, now: datetime) -> list[str]:
    """Why an order needs the store's attention now (empty: it does not)."""
    flags = []
    if order.status in UNDELIVERABLE:
        flags.append("undeliverable")
    ready_at = getattr(order, "ready_at", None) or order.status_changed_at
    waiting = order.status in ("ready_for_pickup", "offered") and ready_at
    if waiting and now - max(ready_at, order.pickup_ready_at) > UNASSIGNED_TOO_LONG:
        flags.append("unassigned")
    if order.status not in UNDELIVERABLE and not order.is_final:
        if now > order.dropoff_window_end:
            flags.append("late")
        elif order.dropoff_eta and order.dropoff_eta > order.dropoff_window_end:
            flags.append("running_late")
    return flags


def board_for_store(*, store: Any, now: datetime) -> Board:
    since = local_day_start(now, store.market.timezone)
    orders = order_selectors.order_list_for_store_board(store_id=store.id, since=since)
    stages = [Stage(key, label) for key, label, _ in texts.STAGES]
    by_status = {
        s: stage for stage, (_, _, ss) in zip(stages, texts.STAGES, strict=True) for s in ss
    }
    held = dispatch_selectors.order_ids_held_for_batching(market_id=store.market_id)
    exceptions, closed = [], []
    for order in orders:
        card = Card(order, flags_for(order, now), held=order.id in held)
        if card.flags:
            exceptions.append(card)
        if order.status in by_status:
            by_status[order.status].cards.append(card)
        elif order.status in texts.CLOSED:
            closed.append(card)
    return Board(now=now, stages=stages, exceptions=exceptions, closed=closed)


# --- proof of delivery ----------------------------------------------------------------------


def pod_stop_for_order(*, order_id: int) -> Any | None:
    """The stop that carried the order to the door (its proof of delivery), if any."""
    return (
        dispatch_selectors.trip_stop_queryset()
        .filter(order_id=order_id)
        .exclude(status="removed")
        .order_by("-id")
        .first()
    )


def pod_distance_m(order: Any, stop: Any) -> int | None:
    """How far from the drop-off address the driver confirmed the delivery."""
    if stop is None or stop.pod_lat is None or stop.pod_lng is None:
        return None
    km = haversine_km(
        Point(stop.pod_lat, stop.pod_lng), Point(order.dropoff_lat, order.dropoff_lng)
    )
    return round(km * 1000)


@dataclass
class PodRow:
    order: Any
    stop: Any | None
    distance_m: int | None

    @property
    def on_time(self) -> bool | None:
        if self.stop is None or self.stop.delivered_at is None:
            return None
        return self.stop.delivered_at <= self.order.dropoff_window_end


def pod_rows_for_store(*, store: Any, start: datetime, end: datetime) -> list[PodRow]:
    """Delivered (or undeliverable) orders of the store in [start, end), with their proof."""
    orders = list(
        order_selectors.order_list_for_store_between(
            store_id=store.id, start=start, end=end, statuses=POD_STATUSES
        )
    )
    stops = {
        s.order_id: s
        for s in dispatch_selectors.trip_stop_queryset()
        .filter(order_id__in=[o.id for o in orders])
        .exclude(status="removed")
        .order_by("id")
    }
    return [PodRow(o, stops.get(o.id), pod_distance_m(o, stops.get(o.id))) for o in orders]
