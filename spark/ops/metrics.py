"""A market's day in hourly buckets (market time), for the ops console's charts.

Everything is computed from the audit rows the apps already keep: order events (orders reaching
each stage, time to assign, on-time) and offers (acceptance, boosts). One pass over a day's rows
per request; the live state of the market (open orders by stage now) is in selectors.market_now.
"""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatch import selectors as dispatch_selectors
from orders import selectors as order_selectors

ANSWERED = ("accepted", "declined", "expired")  # withdrawn offers were never really answered


@dataclass(frozen=True)
class Hours:
    start: datetime  # local midnight
    count: int  # buckets from midnight up to and including the current hour

    def index(self, at: datetime) -> int | None:
        i = int((at - self.start).total_seconds() // 3600)
        return i if 0 <= i < self.count else None

    def labels(self) -> list[str]:
        return [(self.start + timedelta(hours=i)).strftime("%-I %p") for i in range(self.count)]


def hours_of_day(now: datetime, tz_name: str) -> Hours:
    local = now.astimezone(ZoneInfo(tz_name))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return Hours(start=start, count=local.hour + 1)


def day_metrics(*, market: Any, now: datetime) -> dict[str, Any]:
    hours = hours_of_day(now, market.timezone)
    events = order_selectors.order_event_rows_for_market(market_id=market.id, since=hours.start)
    offers = list(
        dispatch_selectors.offer_queryset()
        .filter(trip__market_id=market.id, created_at__gte=hours.start)
        .values_list("created_at", "status", "responded_at", "boost_cents", "currency")
    )
    stages = _stage_flow(events, hours)
    assign = _time_to_assign(events, hours)
    on_time = _on_time(events, hours)
    acceptance = _acceptance(offers, hours)
    boosts = _boosts(offers, hours)
    return {
        "generated_at": now.isoformat(),
        "labels": hours.labels(),
        "stages": stages,
        "time_to_assign_min": assign["series"],
        "on_time_pct": on_time["series"],
        "acceptance_pct": acceptance["series"],
        "boosts_usd": boosts["series"],
        "totals": {
            "median_time_to_assign_min": assign["total"],
            "delivered": on_time["delivered"],
            "on_time_pct": on_time["total"],
            "offers_answered": acceptance["answered"],
            "acceptance_pct": acceptance["total"],
            "boosts_usd": boosts["total"],
        },
    }


# The steps an order reaches during the day, counted per hour (throughput by stage).
FLOW = [
    ("created", "Created", ("created",)),
    ("ready", "Ready", ("ready_for_pickup",)),
    ("assigned", "Driver assigned", ("driver_assigned",)),
    ("picked_up", "Picked up", ("picked_up",)),
    ("delivered", "Delivered", ("delivered",)),
    ("problem", "Cancelled or undeliverable", ("cancelled", "undeliverable")),
]
FLOW_OF = {status: key for key, _, statuses in FLOW for status in statuses}


def _stage_flow(events: list, hours: Hours) -> dict[str, Any]:
    """How many orders reached each stage in each hour (an order counts once per stage, at the
    first time it got there: offers going back to the pool do not count twice)."""
    series: dict[str, list[int]] = {key: [0] * hours.count for key, _, _ in FLOW}
    seen: set[tuple[int, str]] = set()
    for order_id, to_status, at, _ in events:
        key = FLOW_OF.get(to_status)
        if key is None or (order_id, key) in seen:
            continue
        seen.add((order_id, key))
        h = hours.index(at)
        if h is not None:
            series[key][h] += 1
    return {"keys": [k for k, _, _ in FLOW], "names": [n for _, n, _ in FLOW], **series}


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _time_to_assign(events: list, hours: Hours) -> dict[str, Any]:
    """Minutes from an order's first "ready" to its first "driver assigned", by assign hour."""
    ready: dict[int, datetime] = {}
    waits: list[list[float]] = [[] for _ in range(hours.count)]
    done: set[int] = set()
    for order_id, to_status, at, _ in events:
        if to_status == "ready_for_pickup":
            ready.setdefault(order_id, at)
        elif to_status == "driver_assigned" and order_id in ready and order_id not in done:
            done.add(order_id)
            h = hours.index(at)
            if h is not None:
                waits[h].append((at - ready[order_id]).total_seconds() / 60)
    every = [w for bucket in waits for w in bucket]
    return {
        "series": [round(statistics.median(w), 1) if w else None for w in waits],
        "total": round(statistics.median(every), 1) if every else None,
    }


def _on_time(events: list, hours: Hours) -> dict[str, Any]:
    delivered = [[0, 0] for _ in range(hours.count)]  # [on time, all]
    for _, to_status, at, window_end in events:
        h = hours.index(at) if to_status == "delivered" else None
        if h is not None:
            delivered[h][1] += 1
            delivered[h][0] += at <= window_end
    on, total = sum(b[0] for b in delivered), sum(b[1] for b in delivered)
    return {
        "series": [_pct(b[0], b[1]) for b in delivered],
        "total": _pct(on, total),
        "delivered": total,
    }


def _acceptance(offers: list, hours: Hours) -> dict[str, Any]:
    buckets = [[0, 0] for _ in range(hours.count)]  # [accepted, answered]
    for created_at, status, _, _, _ in offers:
        h = hours.index(created_at)
        if h is not None and status in ANSWERED:
            buckets[h][1] += 1
            buckets[h][0] += status == "accepted"
    accepted, answered = sum(b[0] for b in buckets), sum(b[1] for b in buckets)
    return {
        "series": [_pct(b[0], b[1]) for b in buckets],
        "total": _pct(accepted, answered),
        "answered": answered,
    }


def _boosts(offers: list, hours: Hours) -> dict[str, Any]:
    """Boosts in accepted offers (what the platform committed to pay), by acceptance hour."""
    cents = [0] * hours.count
    for _, status, responded_at, boost_cents, _ in offers:
        h = hours.index(responded_at) if status == "accepted" and responded_at else None
        if h is not None:
            cents[h] += boost_cents
    return {"series": [c / 100 for c in cents], "total": sum(cents) / 100}
