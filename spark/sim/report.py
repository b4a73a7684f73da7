"""The day's report, read back from what the services wrote (orders and their events, offers,
earnings lines, the ledger, payouts), plus what only the simulator measured (driving, online
time, wall times).

Everything but `timings` (and the run's own market slug) is a function of the seed and the
parameters: two runs of the same day give the same report. Wall-clock figures live in `timings`.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import connection
from django.db.models import Sum

from dispatch.models import DispatchRound, Offer, Trip
from orders.models import Order, OrderEvent
from payouts.models import Account, Earning, JournalEntry, JournalTransaction
from spark.sim.state import NO_DRIVER

if TYPE_CHECKING:
    from spark.sim.runner import Simulation

ANSWERED = ("accepted", "declined", "expired")  # withdrawn offers were never really answered


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def build(sim: Simulation) -> dict[str, Any]:
    market = sim.market
    orders = list(
        Order.objects.filter(store__market=market).values(
            "id", "status", "cancel_reason", "dropoff_window_start", "dropoff_window_end"
        )
    )
    times = _order_times(market.id)
    counts = _orders(sim, orders)
    report: dict[str, Any] = {
        "run": _run(sim),
        "orders": counts,
        "service": _service(orders, times),
        "driving": _driving(sim, delivered=counts["delivered"]),
        "offers": _offers(market.id),
        "earnings": _earnings(sim),
        "ledger": _ledger(sim),
        "settlement": dict(sim.trace.settlement),
        "dispatch": _dispatch(sim),
        "paired_greedy": _paired(sim),
        "hourly": _hourly(sim, times),
        "timings": _timings(sim),
    }
    return report


def _run(sim: Simulation) -> dict[str, Any]:
    p = sim.p
    return {
        "market": sim.market.slug,
        "city": p.city,
        "database": connection.vendor,
        "seed": p.seed,
        "orders": p.orders,
        "drivers": p.drivers,
        "hours": p.hours,
        "policy": p.policy,
        "batching": p.batching,
        "paired_greedy": p.paired_greedy,
        "round_seconds": p.round_seconds,
        "day_starts": sim.day_start.isoformat(),
        "day_ended_after_h": round(sim.trace.end_s / 3600, 2),
    }


def _order_times(market_id: int) -> dict[int, dict[str, datetime]]:
    """Per order, when it first reached each status (from its event rows)."""
    rows = (
        OrderEvent.objects.filter(order__store__market_id=market_id, kind="status_changed")
        .order_by("at", "id")
        .values_list("order_id", "to_status", "at")
    )
    out: dict[int, dict[str, datetime]] = {}
    for order_id, status, at in rows:
        out.setdefault(order_id, {}).setdefault(status, at)
    return out


def _orders(sim: Simulation, orders: list[dict[str, Any]]) -> dict[str, int]:
    status = Counter(o["status"] for o in orders)
    cancelled = [o for o in orders if o["status"] == Order.Status.CANCELLED]
    unassigned = sum(1 for o in cancelled if o["cancel_reason"] == NO_DRIVER)
    return {
        "planned": len(sim.orders),
        "created": len(orders),
        "delivered": status[Order.Status.DELIVERED],
        "cancelled": len(cancelled),
        "cancelled_by_customer": len(cancelled) - unassigned,
        "unassigned": unassigned,
        "returned_to_store": status[Order.Status.RETURNED_TO_STORE],
        "not_final": sum(n for s, n in status.items() if s not in Order.FINAL),
    }


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() / 60 if a and b else None


def _service(orders: list[dict[str, Any]], times: dict[int, dict[str, datetime]]) -> dict:
    assign, door, on_time, on_quote = [], [], 0, 0
    for o in orders:
        t = times.get(o["id"], {})
        waited = _minutes(t.get("ready_for_pickup"), t.get("driver_assigned"))
        if waited is not None:
            assign.append(waited)
        delivered = t.get("delivered")
        if delivered is not None:
            door.append(_minutes(t.get("created"), delivered) or 0.0)
            on_time += delivered <= o["dropoff_window_end"]
            on_quote += delivered <= o["dropoff_window_start"]
    return {
        "assign_minutes_p50": pct(assign, 50),
        "assign_minutes_p90": pct(assign, 90),
        "click_to_door_minutes_p50": pct(door, 50),
        "click_to_door_minutes_p90": pct(door, 90),
        "on_time_rate": _rate(on_time, len(door)),
        "by_quoted_eta_rate": _rate(on_quote, len(door)),
        "_assign_minutes": assign,  # for the charts; dropped from the JSON
    }


def _driving(sim: Simulation, *, delivered: int) -> dict[str, Any]:
    drivers = sim.drivers
    loaded = sum(d.km_loaded for d in drivers)
    empty = sum(d.km_empty for d in drivers)
    online = sum(d.online_s for d in drivers)
    busy = sum(d.busy_s for d in drivers)
    return {
        "drivers_online": sum(1 for d in drivers if d.online_s > 0),
        "drivers_with_trips": sum(1 for d in drivers if d.busy_s > 0),
        "online_hours": round(online / 3600, 1),
        "engaged_hours": round(busy / 3600, 1),
        "utilisation": _rate(round(busy), round(online)),
        "km_total": round(loaded + empty, 1),
        "km_empty": round(empty, 1),
        "empty_share": _rate(round(empty * 1000), round((loaded + empty) * 1000)),
        "km_per_delivery": round((loaded + empty) / delivered, 3) if delivered else None,
        "pings": sim.trace.counts["pings"],
    }


def _offers(market_id: int) -> dict[str, Any]:
    offers = Offer.objects.filter(trip__market_id=market_id)
    status = Counter(offers.values_list("status", flat=True))
    answered = sum(status[s] for s in ANSWERED)
    accepted = offers.filter(status="accepted").aggregate(km=Sum("pickup_km"))["km"] or 0.0
    trips = Counter(Trip.objects.filter(market_id=market_id).values_list("status", flat=True))
    return {
        "made": sum(status.values()),
        "broadcast": offers.filter(is_broadcast=True).count(),
        **{s: status[s] for s in (*ANSWERED, "withdrawn")},
        "acceptance_rate": _rate(status["accepted"], answered),
        "pickup_km_accepted": round(accepted, 1),  # P3: the matching's pickup distance
        "trips_completed": trips["completed"],
        "trips_cancelled": trips["cancelled"],
    }


def _driver_accounts(sim: Simulation) -> list[int]:
    return list(
        Account.objects.filter(
            kind=Account.Kind.DRIVER_PAYABLE, driver_id__in=[d.id for d in sim.drivers]
        ).values_list("id", flat=True)
    )


def _earnings(sim: Simulation) -> dict[str, Any]:
    """Per driver: what the ledger credited them for the day's work, over their engaged hours
    (the earnings lines' engaged time, from accept to completion)."""
    ids = [d.id for d in sim.drivers]
    earned = dict(
        JournalEntry.objects.filter(
            account_id__in=_driver_accounts(sim),
            transaction__kind=JournalTransaction.Kind.EARNINGS,
        )
        .values("account__driver_id")
        .annotate(total=Sum("amount_cents"))
        .values_list("account__driver_id", "total")
    )
    lines = Earning.objects.filter(driver_id__in=ids)
    engaged = dict(
        lines.values("driver_id").annotate(s=Sum("engaged_seconds")).values_list("driver_id", "s")
    )
    per_hour = sorted(-earned.get(i, 0) / (engaged[i] / 3600) for i in ids if engaged.get(i))
    sums = lines.aggregate(
        boost=Sum("boost_cents"), tips=Sum("tip_cents"), total=Sum("total_cents")
    )
    return {
        "drivers_paid": sum(1 for v in earned.values() if v),
        "total_cents": sum(-v for v in earned.values()),
        "tips_cents": sums["tips"] or 0,
        "per_engaged_hour_cents_min": round(per_hour[0]) if per_hour else None,
        "per_engaged_hour_cents_median": round(statistics.median(per_hour)) if per_hour else None,
        "boosts_paid_cents": sums["boost"] or 0,
        "trips_boosted": lines.filter(boost_cents__gt=0).count(),
        "_per_hour": per_hour,
    }


def _ledger(sim: Simulation) -> dict[str, Any]:
    """Every journal transaction that touched the run's drivers sums to zero (per currency)."""
    touched = JournalEntry.objects.filter(account_id__in=_driver_accounts(sim)).values(
        "transaction_id"
    )
    sums = (
        JournalEntry.objects.filter(transaction_id__in=touched)
        .values("transaction_id", "currency")
        .annotate(total=Sum("amount_cents"))
    )
    totals = [row["total"] for row in sums]
    return {
        "transactions": len({row["transaction_id"] for row in sums}),
        "unbalanced": sum(1 for t in totals if t != 0),
        "sum_cents": sum(totals),
    }


def _dispatch(sim: Simulation) -> dict[str, Any]:
    rows = DispatchRound.objects.filter(market=sim.market)
    agg = list(rows.values_list("orders", "drivers", "offers_made", "held_order_ids"))
    return {
        "rounds": len(agg),
        "max_orders_in_round": max((a[0] for a in agg), default=0),
        "max_drivers_in_round": max((a[1] for a in agg), default=0),
        "offers_made": sum(a[2] for a in agg),
        "orders_held": sum(len(a[3]) for a in agg),  # order-rounds spent held back for a partner
        "offers_ignored": sim.trace.counts["offers_ignored"],
        "accepts_lost": sim.trace.counts["accept_lost"],
        "trips_cancelled_under_driver": sim.trace.counts["trips_cancelled_under_driver"],
    }


def _paired(sim: Simulation) -> dict[str, Any] | None:
    """P3 paired: every round solved by the day's policy and by greedy on the same inputs.

    Pickup km per assigned order of each, summed over the rounds, and how many rounds the
    policy's answer, serving as many orders, drove further than greedy's (its cost also weighs
    lateness, fairness and blocks, so that can happen). Unlike two separate days, the two
    answers see identical orders and drivers (the day's feedback cannot tilt the ratio)."""
    if not sim.p.paired_greedy:
        return None
    rounds = [p for p in sim.trace.paired if p.orders and p.shadow_orders]
    km = sum(p.pickup_km for p in rounds)
    orders = sum(p.orders for p in rounds)
    greedy_km = sum(p.shadow_pickup_km for p in rounds)
    greedy_orders = sum(p.shadow_orders for p in rounds)
    per_order = km / orders if orders else None
    greedy_per_order = greedy_km / greedy_orders if greedy_orders else None
    return {
        "rounds": len(rounds),
        "orders_assigned": orders,
        "greedy_orders_assigned": greedy_orders,
        "pickup_km_per_order": round(per_order, 4) if per_order is not None else None,
        "greedy_pickup_km_per_order": (
            round(greedy_per_order, 4) if greedy_per_order is not None else None
        ),
        "ratio": round(per_order / greedy_per_order, 4) if per_order and greedy_per_order else None,
        "rounds_further": sum(
            1
            for p in rounds
            if p.orders == p.shadow_orders and p.pickup_km > p.shadow_pickup_km + 1e-9
        ),
    }


def _hourly(sim: Simulation, times: dict[int, dict[str, datetime]]) -> dict[str, list]:
    n = int(np.ceil(max(sim.trace.end_s, sim.end_s) / 3600))
    counts = {k: [0] * n for k in ("created", "delivered", "cancelled")}
    for t in times.values():
        for status in counts:
            at = t.get(status)
            if at is not None:
                i = int((at - sim.day_start).total_seconds() // 3600)
                counts[status][min(max(i, 0), n - 1)] += 1
    start = sim.day_start.astimezone(sim.tz)
    labels = [f"{(start.hour + i) % 24:02d}:{start.minute:02d}" for i in range(n)]
    return {"hour": labels, **counts}


def _timings(sim: Simulation) -> dict[str, Any]:
    wall = sim.trace.round_wall_ms
    engine = list(
        DispatchRound.objects.filter(market=sim.market).values_list("total_ms", flat=True)
    )
    return {
        **{f"{k}_s": round(v, 2) for k, v in sim.trace.phases_s.items()},
        "round_wall_ms_p50": pct(wall, 50),
        "round_wall_ms_p95": pct(wall, 95),
        "round_wall_ms_max": round(max(wall), 2) if wall else None,
        "round_inner_ms_p50": pct(engine, 50),
        "round_inner_ms_p95": pct(engine, 95),
        "steps": {
            name: {"n": sim.trace.step_n[name], "s": round(seconds, 2)}
            for name, seconds in sim.trace.step_s.most_common()
        },
    }


def deterministic(report: dict[str, Any]) -> dict[str, Any]:
    """The part two runs of the same day must agree on."""
    out = {k: v for k, v in report.items() if k != "timings"}
    out["run"] = {k: v for k, v in report["run"].items() if k not in ("market", "database")}
    return out


def public(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the raw series the charts use."""
    return {
        k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} if isinstance(v, dict) else v
        for k, v in report.items()
    }


def markdown(report: dict[str, Any]) -> str:
    r = public(report)
    run, o, s, d = r["run"], r["orders"], r["service"], r["driving"]
    e, off, t = r["earnings"], r["offers"], r["timings"]
    rows = [
        (
            "orders delivered / cancelled / unassigned",
            f"{o['delivered']} / {o['cancelled']} / "
            f"{o['unassigned']} (of {o['created']}; {o['returned_to_store']} returned)",
        ),
        ("time to assign p50 / p90", f"{s['assign_minutes_p50']} / {s['assign_minutes_p90']} min"),
        (
            "click-to-door p50 / p90",
            f"{s['click_to_door_minutes_p50']} / {s['click_to_door_minutes_p90']} min",
        ),
        (
            "on time: by the drop-off window's end / by the quoted ETA",
            f"{_share(s['on_time_rate'])} / {_share(s['by_quoted_eta_rate'])}",
        ),
        (
            "driver-km per delivery (empty km)",
            f"{d['km_per_delivery']} km ({d['km_empty']} of {d['km_total']} km empty)",
        ),
        (
            "utilisation (engaged / online hours)",
            f"{_share(d['utilisation'])} ({d['engaged_hours']} / {d['online_hours']} h)",
        ),
        (
            "earnings per engaged hour, min / median (ledger)",
            f"{_dollars(e['per_engaged_hour_cents_min'])} / "
            f"{_dollars(e['per_engaged_hour_cents_median'])}",
        ),
        ("offer acceptance", f"{_share(off['acceptance_rate'])} of {off['made']} offers"),
        ("boosts paid", f"{_dollars(e['boosts_paid_cents'])} on {e['trips_boosted']} trips"),
        (
            "dispatch round wall p50 / p95 / max",
            f"{t['round_wall_ms_p50']} / {t['round_wall_ms_p95']} / {t['round_wall_ms_max']} ms "
            f"({r['dispatch']['rounds']} rounds)",
        ),
        (
            "ledger",
            f"{r['ledger']['transactions']} transactions, {r['ledger']['unbalanced']} unbalanced",
        ),
        ("wall time", f"{t.get('day_s')} s day + {t.get('settlement_s')} s settlement"),
    ]
    paired = r.get("paired_greedy")
    if paired and paired["ratio"] is not None:
        rows.insert(
            -2,
            (
                "pickup km per order, this policy / greedy on the same rounds (paired)",
                f"{paired['ratio']} ({paired['pickup_km_per_order']} / "
                f"{paired['greedy_pickup_km_per_order']} km over {paired['rounds']} rounds)",
            ),
        )
    head = (
        f"# Simulated day: {run['city']}, seed {run['seed']}, {run['policy']}"
        f"{'' if run['batching'] else ', no batching'}\n\n"
        f"{run['orders']} orders, {run['drivers']} drivers, {run['hours']} h from "
        f"{run['day_starts']} on {run['database']} (market `{run['market']}`).\n\n"
        "| metric | value |\n| --- | --- |\n"
    )
    return head + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"


def _share(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f} %"


def _dollars(cents: float | None) -> str:
    return "n/a" if cents is None else f"${cents / 100:,.2f}"


def write(report: dict[str, Any], out: Path, *, charts: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(public(report), indent=2, default=str) + "\n")
    (out / "report.md").write_text(markdown(report))
    if charts:
        from spark.sim import charts as charts_module

        charts_module.draw(report, out)
