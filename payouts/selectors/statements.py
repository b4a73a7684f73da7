"""Statements: every trip with the offer's promise beside what was paid, line by line, and
why any line differs; the week's other items (guarantees, floors, adjustments); the payouts.

A weekly statement lists the earnings lines earned that week (in the market's time zone), so
its total is exactly what the ledger credited the driver for that week.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Q

from dispatch import selectors as dispatch_selectors
from payouts.models import Earning, Payout, TipReview
from payouts.periods import Week, week_containing, week_of
from payouts.selectors.earnings import home_for_driver
from spark.lib.errors import NotFound
from spark.lib.money import format_cents

OFFER_LINES = (
    ("Base pay", "base_cents"),
    ("Distance", "distance_cents"),
    ("Time", "time_cents"),
    ("Extra stops", "extra_stops_cents"),
    ("Boost", "boost_cents"),
)
STAGES = {"assigned": "on the way to the store", "at_store": "at the store"}
STAGES["in_progress"] = "at the door"


@dataclass
class Line:
    label: str
    promised_cents: int
    paid_cents: int
    explanation: str = ""

    @property
    def difference_cents(self) -> int:
        return self.paid_cents - self.promised_cents


@dataclass
class TripRow:
    earning: Earning
    public_id: Any
    store: str
    lines: list[Line] = field(default_factory=list)

    @property
    def promised_cents(self) -> int:
        return sum(line.promised_cents for line in self.lines)

    @property
    def paid_cents(self) -> int:
        return sum(line.paid_cents for line in self.lines)

    @property
    def difference_cents(self) -> int:
        return self.paid_cents - self.promised_cents

    @property
    def at(self) -> datetime:
        return self.earning.earned_at


def _offers(offer_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = (
        dispatch_selectors.offer_queryset()
        .filter(id__in=[i for i in offer_ids if i])
        .values("id", "tip_cents", *(name for _, name in OFFER_LINES))
    )
    return {r["id"]: r for r in rows}


def _tip_line(e: Earning, promised: int, changes: list[Earning], fmt: Any) -> Line:
    paid = e.tip_cents + sum(c.tip_cents for c in changes)
    why = []
    if e.kind == Earning.Kind.CANCELLATION:
        why.append("The order was cancelled: its tip went back to the customer.")
    elif e.tip_cents > promised:
        why.append(f"The shop raised the tip before delivery (+{fmt(e.tip_cents - promised)}).")
    elif e.tip_cents < promised:
        why.append(
            "Orders not delivered: their tips went back to the customer."
            if e.returned_stops
            else f"The tip was lowered before delivery ({fmt(e.tip_cents - promised)})."
        )
    for c in changes:
        if c.tip_cents > 0:
            why.append(f"The shop raised the tip after delivery (+{fmt(c.tip_cents)}).")
        else:
            why.append(f"{c.note or 'Tip lowered after review.'} ({fmt(c.tip_cents)})")
    return Line("Tip", promised, paid, " ".join(why))


def _trip_lines(e: Earning, offer: dict[str, Any], changes: list[Earning], fmt: Any) -> list[Line]:
    cancelled = e.kind == Earning.Kind.CANCELLATION
    lines = []
    for label, name in OFFER_LINES:
        promised, paid = offer.get(name, 0), getattr(e, name)
        if promised or paid:
            why = "Not earned: the trip was cancelled." if cancelled and paid != promised else ""
            lines.append(Line(label, promised, paid, why))
    if e.cancellation_cents:
        stage = STAGES.get(e.cancel_stage, e.cancel_stage)
        why = f"Cancelled while you were {stage}: cancellation pay from the rate card."
        lines.append(Line("Cancellation pay", 0, e.cancellation_cents, why))
    if e.wait_cents:
        why = f"You waited {e.wait_minutes} min at the store; wait beyond the free minutes is paid."
        lines.append(Line("Wait at the store", 0, e.wait_cents, why))
    if e.return_cents:
        why = f"{e.returned_stops} order(s) brought back to the store."
        lines.append(Line("Return to the store", 0, e.return_cents, why))
    promised_tip = offer.get("tip_cents", e.promised_tip_cents or 0)
    if promised_tip or e.tip_cents or changes:
        lines.append(_tip_line(e, promised_tip, changes, fmt))
    return lines


def _rows(earnings: list[Earning], changes: dict[int, list[Earning]]) -> list[TripRow]:
    trips = dispatch_selectors.trip_queryset().filter(id__in=[e.trip_id for e in earnings])
    info = {t["id"]: t for t in trips.values("id", "public_id", "store__name")}
    offers = _offers([e.offer_id for e in earnings if e.offer_id])
    rows = []
    for e in earnings:
        fmt = _formatter(e.currency)
        trip = info.get(e.trip_id, {})
        row = TripRow(e, trip.get("public_id"), trip.get("store__name", ""))
        row.lines = _trip_lines(e, offers.get(e.offer_id or 0, {}), changes.get(e.trip_id, []), fmt)
        rows.append(row)
    return rows


def _formatter(currency: str) -> Any:
    return lambda cents: format_cents(cents, currency)


@dataclass
class TripBreakdown:
    row: TripRow
    reviews: list[TipReview]


def trip_breakdown_for_driver(*, driver_id: int, trip_public_id: Any) -> TripBreakdown:
    """One of the driver's trips, with every tip change since; another driver's trip: 404."""
    earning = (
        Earning.objects.filter(
            driver_id=driver_id,
            trip__public_id=trip_public_id,
            kind__in=[Earning.Kind.TRIP, Earning.Kind.CANCELLATION],
        )
        .order_by("id")
        .first()
    )
    if earning is None:
        raise NotFound("No such trip.")
    changes = list(
        Earning.objects.filter(trip_id=earning.trip_id, kind=Earning.Kind.TIP_CHANGE).order_by(
            "seq"
        )
    )
    row = _rows([earning], {earning.trip_id: changes})[0]
    reviews = list(
        TipReview.objects.filter(
            trip_id=earning.trip_id, driver_id=driver_id, status=TipReview.Status.APPROVED
        )
    )
    return TripBreakdown(row, reviews)


@dataclass
class Statement:
    driver_id: int
    currency: str
    week: Week
    trips: list[TripRow]
    items: list[Earning]
    payouts: list[Payout]

    @property
    def promised_cents(self) -> int:
        return sum(t.promised_cents for t in self.trips)

    @property
    def trips_paid_cents(self) -> int:
        return sum(t.paid_cents for t in self.trips)

    @property
    def items_cents(self) -> int:
        return sum(i.total_cents for i in self.items)

    @property
    def total_cents(self) -> int:
        return self.trips_paid_cents + self.items_cents

    @property
    def tip_cents(self) -> int:
        lines = [line for t in self.trips for line in t.lines if line.label == "Tip"]
        return sum(line.paid_cents for line in lines) + sum(i.tip_cents for i in self.items)


def statement_for_driver(*, driver_id: int, week_start: date) -> Statement:
    home = home_for_driver(driver_id=driver_id)
    week = week_of(day=week_start, tz=home.tz)
    earnings = list(
        Earning.objects.filter(
            driver_id=driver_id, earned_at__gte=week.starts_at, earned_at__lt=week.ends_at
        ).order_by("earned_at", "id")
    )
    trip_kinds = (Earning.Kind.TRIP, Earning.Kind.CANCELLATION)
    trips = [e for e in earnings if e.kind in trip_kinds]
    in_week = {e.trip_id for e in trips}
    changes: dict[int, list[Earning]] = defaultdict(list)
    items = []
    for e in earnings:
        if e.kind == Earning.Kind.TIP_CHANGE and e.trip_id in in_week:
            changes[e.trip_id].append(e)
        elif e.kind not in trip_kinds:
            items.append(e)
    payouts = Payout.objects.filter(driver_id=driver_id).filter(
        Q(created_at__gte=week.starts_at, created_at__lt=week.ends_at) | Q(period=week.period)
    )
    return Statement(
        driver_id, home.currency, week, _rows(trips, changes), items, list(payouts.order_by("id"))
    )


def statement_weeks_for_driver(*, driver_id: int, limit: int = 26) -> list[date]:
    """The Mondays of the weeks in which the driver earned anything, newest first."""
    home = home_for_driver(driver_id=driver_id)
    days = (
        Earning.objects.filter(driver_id=driver_id)
        .order_by("-earned_at")
        .values_list("earned_at", flat=True)[:5000]
    )
    weeks = sorted({_monday(d, home.tz) for d in days}, reverse=True)
    return weeks[:limit]


def _monday(at: datetime, tz: str) -> date:
    return week_containing(at=at, tz=tz).start


ITEM_LABELS = {
    Earning.Kind.BLOCK_GUARANTEE: "Block guarantee top-up",
    Earning.Kind.FLOOR_TOPUP: "Minimum pay per engaged hour",
    Earning.Kind.ADJUSTMENT: "Adjustment",
    Earning.Kind.TIP_CHANGE: "Tip change on an earlier trip",
}


def item_explanation(item: Earning) -> str:
    if item.kind == Earning.Kind.BLOCK_GUARANTEE:
        return "Your block's trips paid less than its guarantee; the difference is topped up."
    if item.kind == Earning.Kind.FLOOR_TOPUP:
        hours, rest = divmod(item.engaged_seconds // 60, 60)
        return f"{hours} h {rest} min engaged this week; pay topped up to the hourly minimum."
    return item.note


def statement_csv_rows(statement: Statement) -> list[list[str]]:
    """Line by line: one row per pay line of every trip, then the other items and totals."""
    fmt = _formatter(statement.currency)
    rows = [["date", "trip", "store", "kind", "line", "promised", "paid", "difference", "why"]]
    for t in statement.trips:
        for line in t.lines:
            rows.append(
                [
                    t.at.date().isoformat(),
                    str(t.public_id or ""),
                    t.store,
                    t.earning.kind,
                    line.label,
                    fmt(line.promised_cents),
                    fmt(line.paid_cents),
                    fmt(line.difference_cents),
                    line.explanation,
                ]
            )
    for item in statement.items:
        label = ITEM_LABELS.get(item.kind, item.kind)
        rows.append(
            [item.earned_at.date().isoformat(), "", "", item.kind, label, "", fmt(item.total_cents)]
            + ["", item_explanation(item)]
        )
    rows.append(["", "", "", "total", "", fmt(statement.promised_cents)])
    rows[-1] += [fmt(statement.total_cents), "", "trips promised vs everything paid this week"]
    return rows
