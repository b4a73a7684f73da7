"""The earnings sweep: completed trips, cancellations, tip changes, block guarantees and weekly
floor top-ups become earnings lines and one journal transaction, set-based.

A run reads dispatch through its selectors' querysets (compiled into sub-selects) and writes the
lines straight into payouts_earning, each kind in one INSERT .. SELECT. All the lines of a run
belong to one journal transaction per currency (a batch posting: a credit to each driver's
payable, a debit to delivery expense and to tips payable), whose id is reserved before the
lines are written and whose row and entries are written after, in the same transaction.

A business event is posted once: the lines' partial unique indexes (trip, block reservation,
driver-week) refuse a second row, and every query skips what is already there. A run is one
database transaction under an advisory lock, so a crash leaves nothing half-posted.
"""

# SQL text below is built only from constants and Django-compiled querysets; every value
# is a bound parameter.
# ruff: noqa: S608

import itertools
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from dispatch import selectors as dispatch_selectors
from drivers import selectors as driver_selectors
from orders import selectors as order_selectors
from payouts import _sql
from payouts.models import Earning, JournalTransaction
from payouts.services import ledger
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.db import try_advisory_xact_lock

RATES = "payouts_tmp_rate_card"
TXNS = "payouts_tmp_run_txn"
SUMS = "payouts_tmp_run_sums"
LOCK = "payouts:earnings"
SWEEP_OVERLAP = timedelta(hours=1)
# The stage a trip was cancelled at is the from_status of its move to cancelled.
CANCEL_STAGES = ("assigned", "at_store", "in_progress")
ACTIVE_TRIP = ("pooled", "offered", "assigned", "at_store", "in_progress")
LINES = Earning.PAY_LINES
# Every column a kind's SELECT yields, with what it is when the kind says nothing.
DEFAULTS: dict[str, str] = {
    "kind": "''",
    "seq": "0",
    "driver_id": "CAST(NULL AS bigint)",
    "market_id": "CAST(NULL AS bigint)",
    "currency": "''",
    "trip_id": "CAST(NULL AS bigint)",
    "offer_id": "CAST(NULL AS bigint)",
    "block_reservation_id": "CAST(NULL AS bigint)",
    "period_start": "CAST(NULL AS date)",
    "earned_at": "NULL",
    **{c: "0" for c in LINES},
    "tip_cents": "0",
    "promised_pay_cents": "CAST(NULL AS bigint)",
    "promised_tip_cents": "CAST(NULL AS bigint)",
    "engaged_seconds": "0",
    "wait_minutes": "0",
    "returned_stops": "0",
    "cancel_stage": "''",
    "note": "''",
}
COLUMNS = tuple(DEFAULTS)
Stage = Callable[[], tuple[str, tuple[Any, ...]]]


DriverRange = tuple[int | None, int | None]  # [first, last + 1) of driver ids; None: open


@dataclass(frozen=True)
class Window:
    since: datetime | None
    until: datetime
    market_id: int | None = None
    drivers: DriverRange | None = None

    def of(self, qs: QuerySet[Any], driver: str) -> QuerySet[Any]:
        """`qs` narrowed to this window's range of drivers (`driver` is the id's path). A range
        on the column itself, so the planner estimates it from the column's statistics."""
        if self.drivers is None:
            return qs
        first, end = self.drivers
        if first is not None:
            qs = qs.filter(**{f"{driver}__gte": first})
        if end is not None:
            qs = qs.filter(**{f"{driver}__lt": end})
        return qs


def _select(exprs: dict[str, str], rest: str) -> str:
    """A kind's lines: SELECT <every column, named> <rest>."""
    cols = ", ".join(f"{exprs.get(c, DEFAULTS[c])} AS {c}" for c in COLUMNS)
    return f"SELECT {cols} {rest}"


def _rate_cards_load(market_id: int | None) -> None:
    """Every market's cards as [starts_at, ends_at) intervals, for a join by time."""
    _sql.temp_table(
        RATES,
        "market_id bigint, starts_at timestamp with time zone, ends_at timestamp with time zone,"
        " wait_after bigint, wait_rate bigint, return_rate bigint, cancel_accepted bigint,"
        " cancel_store bigint, cancel_door bigint",
    )
    markets = order_selectors.market_list(active_only=False)
    if market_id:
        markets = markets.filter(id=market_id)
    rows = []
    for mid in markets.values_list("id", flat=True):
        ends_at = None
        for card in dispatch_selectors.rate_card_list(market_id=mid):  # newest first
            rows.append(
                (mid, card.effective_from, ends_at, card.wait_pay_after_minutes)
                + (card.wait_pay_per_minute_cents, card.return_to_store_cents)
                + (card.cancel_after_accept_cents, card.cancel_at_store_cents)
                + (card.cancel_at_door_cents,)
            )
            ends_at = card.effective_from
    columns = ["market_id", "starts_at", "ends_at", "wait_after", "wait_rate", "return_rate"]
    columns += ["cancel_accepted", "cancel_store", "cancel_door"]
    _sql.insert_rows(RATES, columns, rows)


def _rate_join(market: str, at: str) -> str:
    return (
        f"LEFT JOIN {RATES} rc ON rc.market_id = {market} AND rc.starts_at <= {at} "
        f"AND (rc.ends_at IS NULL OR {at} < rc.ends_at)"
    )


def _not_posted(trip: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM payouts_earning e WHERE e.trip_id = {trip} "
        "AND e.kind IN ('trip', 'cancellation') AND e.seq = 0)"
    )


def _window(qs: QuerySet[Any], field: str, w: Window) -> QuerySet[Any]:
    qs = qs.filter(**{f"{field}__lt": w.until})
    if w.since is not None:
        qs = qs.filter(**{f"{field}__gte": w.since})
    return qs


def _trips_completed(w: Window) -> tuple[str, tuple[Any, ...]]:
    """A completed trip pays its accepted offer's lines (the promise) plus what happened after:
    wait at the store beyond the card's free minutes, returns, and the tips of the delivered
    orders as they are now (tips raised later become tip changes). The trip's driver is paid
    its one accepted offer."""
    offers = _window(
        dispatch_selectors.offer_queryset().filter(status="accepted", trip__status="completed"),
        "trip__completed_at",
        w,
    )
    stops = _window(
        dispatch_selectors.trip_stop_queryset().filter(is_active=True, trip__status="completed"),
        "trip__completed_at",
        w,
    )
    if w.market_id:
        offers = offers.filter(trip__market_id=w.market_id)
        stops = stops.filter(trip__market_id=w.market_id)
    offers, stops = w.of(offers, "trip__driver_id"), w.of(stops, "trip__driver_id")
    offers_sql, p1 = _sql.compiled(
        offers.values(
            c_offer=F("id"),
            c_trip=F("trip_id"),
            c_driver=F("trip__driver_id"),
            c_market=F("trip__market_id"),
            c_currency=F("currency"),
            c_base=F("base_cents"),
            c_distance=F("distance_cents"),
            c_time=F("time_cents"),
            c_extra=F("extra_stops_cents"),
            c_boost=F("boost_cents"),
            c_tip=F("tip_cents"),
            c_total=F("total_cents"),
            c_offered=F("created_at"),
            c_assigned=F("trip__assigned_at"),
            c_arrived=F("trip__arrived_at_store_at"),
            c_picked=F("trip__picked_up_at"),
            c_completed=F("trip__completed_at"),
            c_block=F("trip__block_reservation_id"),
        )
    )
    stops_sql, p2 = _sql.compiled(
        stops.values(s_trip=F("trip_id")).annotate(
            s_returned=Count("id", filter=Q(status="returned")),
            s_tips=Coalesce(
                Sum("order__tip_cents", filter=Q(status="delivered")),
                Value(0),
                output_field=BigIntegerField(),
            ),
        )
    )
    waited = _sql.whole_minutes(_sql.seconds_between("c.c_arrived", "c.c_picked"))
    engaged = _sql.seconds_between("COALESCE(c.c_assigned, c.c_offered)", "c.c_completed")
    lines = {
        "kind": "'trip'",
        "driver_id": "x.c_driver",
        "market_id": "x.c_market",
        "currency": "x.c_currency",
        "trip_id": "x.c_trip",
        "offer_id": "x.c_offer",
        "block_reservation_id": "x.c_block",
        "earned_at": "x.c_completed",
        "base_cents": "x.c_base",
        "distance_cents": "x.c_distance",
        "time_cents": "x.c_time",
        "extra_stops_cents": "x.c_extra",
        "boost_cents": "x.c_boost",
        "wait_cents": "CASE WHEN x.waited > x.wait_after "
        "THEN (x.waited - x.wait_after) * x.wait_rate ELSE 0 END",
        "return_cents": "x.returned * x.return_rate",
        "tip_cents": "x.tips",
        "promised_pay_cents": "x.c_total - x.c_tip",
        "promised_tip_cents": "x.c_tip",
        "engaged_seconds": "CASE WHEN x.engaged > 0 THEN x.engaged ELSE 0 END",
        "wait_minutes": "CASE WHEN x.waited > 0 THEN x.waited ELSE 0 END",
        "returned_stops": "x.returned",
    }
    rest = f"""
        FROM (
            SELECT c.*, COALESCE(s.s_returned, 0) AS returned, COALESCE(s.s_tips, 0) AS tips,
                COALESCE(rc.wait_after, 0) AS wait_after, COALESCE(rc.wait_rate, 0) AS wait_rate,
                COALESCE(rc.return_rate, 0) AS return_rate,
                CASE WHEN c.c_arrived IS NULL OR c.c_picked IS NULL THEN 0
                     ELSE {waited} END AS waited,
                {engaged} AS engaged
            FROM {offers_sql} c
            LEFT JOIN {stops_sql} s ON s.s_trip = c.c_trip
            {_rate_join("c.c_market", "c.c_offered")}
            WHERE c.c_driver IS NOT NULL AND {_not_posted("c.c_trip")}
        ) x"""
    return _select(lines, rest), p1 + p2


def _trips_cancelled(w: Window) -> tuple[str, tuple[Any, ...]]:
    """A trip cancelled (not by its driver) after acceptance pays the card's cancellation pay
    for the stage it was at, plus wait pay when the driver was kept waiting at the store."""
    # One filter() call for every condition on the events, so that they all name the same
    # event row: a second call joins the events again, and the trip comes out once per event.
    trips = dispatch_selectors.trip_queryset().filter(
        status="cancelled",
        driver__isnull=False,
        events__entity="trip",
        events__to_status="cancelled",
        events__from_status__in=CANCEL_STAGES,
        events__at__lt=w.until,
        **({"events__at__gte": w.since} if w.since is not None else {}),
    )
    offers = _window(
        dispatch_selectors.offer_queryset().filter(
            status="accepted", trip__status="cancelled", trip__driver_id=F("driver_id")
        ),
        "trip__status_changed_at",
        Window(since=w.since, until=clock.now()),
    )
    if w.market_id:
        trips = trips.filter(market_id=w.market_id)
    trips = w.of(trips, "driver_id")
    trips_sql, p1 = _sql.compiled(
        trips.values(
            c_trip=F("id"),
            c_driver=F("driver_id"),
            c_market=F("market_id"),
            c_currency=F("currency"),
            c_block=F("block_reservation_id"),
            c_arrived=F("arrived_at_store_at"),
            c_stage=F("events__from_status"),
            c_actor=F("events__actor_label"),
            c_at=F("events__at"),
        )
    )
    offers_sql, p2 = _sql.compiled(
        offers.values(
            o_offer=F("id"),
            o_trip=F("trip_id"),
            o_currency=F("currency"),
            o_tip=F("tip_cents"),
            o_total=F("total_cents"),
            o_offered=F("created_at"),
        )
    )
    waited = _sql.whole_minutes(_sql.seconds_between("c.c_arrived", "c.c_at"))
    cancel = (
        "CASE x.c_stage WHEN 'assigned' THEN x.cancel_accepted "
        "WHEN 'at_store' THEN x.cancel_store ELSE x.cancel_door END"
    )
    wait = (
        "CASE WHEN x.c_stage = 'at_store' AND x.waited > x.wait_after "
        "THEN (x.waited - x.wait_after) * x.wait_rate ELSE 0 END"
    )
    lines = {
        "kind": "'cancellation'",
        "driver_id": "x.c_driver",
        "market_id": "x.c_market",
        "currency": "x.currency",
        "trip_id": "x.c_trip",
        "offer_id": "x.o_offer",
        "block_reservation_id": "x.c_block",
        "earned_at": "x.c_at",
        "cancellation_cents": cancel,
        "wait_cents": wait,
        "promised_pay_cents": "x.o_total - x.o_tip",
        "promised_tip_cents": "x.o_tip",
        "wait_minutes": "CASE WHEN x.waited > 0 THEN x.waited ELSE 0 END",
        "cancel_stage": "x.c_stage",
    }
    rest = f"""
        FROM (
            SELECT c.*, o.*, COALESCE(o.o_currency, c.c_currency) AS currency,
                COALESCE(rc.cancel_accepted, 0) AS cancel_accepted,
                COALESCE(rc.cancel_store, 0) AS cancel_store,
                COALESCE(rc.cancel_door, 0) AS cancel_door,
                COALESCE(rc.wait_after, 0) AS wait_after,
                COALESCE(rc.wait_rate, 0) AS wait_rate,
                CASE WHEN c.c_arrived IS NULL THEN 0 ELSE {waited} END AS waited
            FROM {trips_sql} c
            LEFT JOIN {offers_sql} o ON o.o_trip = c.c_trip
            {_rate_join("c.c_market", "COALESCE(o.o_offered, c.c_at)")}
            WHERE c.c_actor NOT LIKE 'driver:%%' AND {_not_posted("c.c_trip")}
        ) x
        WHERE {cancel} + {wait} > 0"""
    return _select(lines, rest), p1 + p2


def _tip_changes(
    w: Window, *, trip_ids: list[int] | None = None, note: str = ""
) -> tuple[str, tuple[Any, ...]]:
    """Tips are the delivered orders' tips as they are now: a paid trip whose orders' tips
    changed since (raised by the shop, or lowered after an ops review) gets the difference."""
    stops = dispatch_selectors.trip_stop_queryset().filter(is_active=True, status="delivered")
    if trip_ids is None:
        changed = _window(
            dispatch_selectors.trip_stop_queryset().filter(
                status="delivered", order__events__kind="tip_changed"
            ),
            "order__events__at",
            w,
        )
        stops = stops.filter(trip_id__in=changed.values("trip_id"))
    else:
        stops = stops.filter(trip_id__in=trip_ids)
    stops = w.of(stops, "trip__driver_id")
    current_sql, params = _sql.compiled(
        stops.values(s_trip=F("trip_id")).annotate(s_tips=Sum("order__tip_cents"))
    )
    lines = {
        "kind": "'tip_change'",
        "seq": "p.max_seq + 1",
        "driver_id": "p.driver_id",
        "market_id": "p.market_id",
        "currency": "p.currency",
        "trip_id": "p.trip_id",
        "earned_at": "%s",
        "tip_cents": "s.s_tips - p.posted",
        "note": "%s",
    }
    rest = f"""
        FROM {current_sql} s
        JOIN (
            SELECT e.trip_id, MIN(e.driver_id) AS driver_id, MIN(e.market_id) AS market_id,
                MIN(e.currency) AS currency, SUM(e.tip_cents) AS posted, MAX(e.seq) AS max_seq
            FROM payouts_earning e
            WHERE e.kind IN ('trip', 'tip_change')
              AND e.trip_id IN (SELECT q.s_trip FROM {current_sql} q)
            GROUP BY e.trip_id
            HAVING SUM(CASE WHEN e.kind = 'trip' THEN 1 ELSE 0 END) = 1
        ) p ON p.trip_id = s.s_trip
        WHERE s.s_tips <> p.posted"""
    # Placeholders in order: earned_at and note (in the column list), then the two sub-selects.
    return _select(lines, rest), (_sql.param(clock.now()), note, *params, *params)


def _block_guarantees(w: Window) -> tuple[str, tuple[Any, ...]]:
    """A completed block reservation pays at least the block's guarantee: once none of its
    trips is still under way, the shortfall of its pay (tips excluded) is topped up."""
    reservations = _window(
        dispatch_selectors.block_reservation_queryset().filter(status="completed"),
        "block__ends_at",
        w,
    )
    if w.market_id:
        reservations = reservations.filter(block__market_id=w.market_id)
    reservations = w.of(reservations, "driver_id")
    res_sql, p1 = _sql.compiled(
        reservations.values(
            r_id=F("id"),
            r_driver=F("driver_id"),
            r_market=F("block__market_id"),
            r_currency=F("block__currency"),
            r_guarantee=F("block__guaranteed_pay_cents"),
            r_ends=F("block__ends_at"),
        )
    )
    active_sql, p2 = _sql.compiled(
        dispatch_selectors.trip_queryset()
        .filter(status__in=ACTIVE_TRIP, block_reservation__isnull=False)
        .values(a_res=F("block_reservation_id"))
    )
    lines = {
        "kind": "'block_guarantee'",
        "driver_id": "r.r_driver",
        "market_id": "r.r_market",
        "currency": "r.r_currency",
        "block_reservation_id": "r.r_id",
        "earned_at": "r.r_ends",
        "guarantee_cents": "r.r_guarantee - COALESCE(p.pay, 0)",
    }
    rest = f"""
        FROM {res_sql} r
        LEFT JOIN (
            SELECT block_reservation_id, SUM(pay_cents) AS pay FROM payouts_earning
            WHERE block_reservation_id IN (SELECT q.r_id FROM {res_sql} q)
            GROUP BY block_reservation_id
        ) p ON p.block_reservation_id = r.r_id
        WHERE r.r_guarantee > COALESCE(p.pay, 0)
          AND NOT EXISTS (SELECT 1 FROM payouts_earning e
                          WHERE e.kind = 'block_guarantee' AND e.block_reservation_id = r.r_id)
          AND NOT EXISTS (SELECT 1 FROM {active_sql} a WHERE a.a_res = r.r_id)"""
    return _select(lines, rest), p1 + p1 + p2


def _floor_topups(
    *, market_id: int, week_start: datetime, week_end: datetime, period_start: object, floor: int
) -> tuple[str, tuple[Any, ...]]:
    """Pay per engaged hour of the week at least `floor` cents: top up the shortfall of the
    week's pay (tips excluded) in this market, once per driver and week."""
    owed = "(%s * w.seconds + 1800) / 3600"
    lines = {
        "kind": "'floor_topup'",
        "driver_id": "w.driver_id",
        "market_id": "w.market_id",
        "currency": "w.currency",
        "period_start": "%s",
        "earned_at": "%s",
        "guarantee_cents": f"{owed} - w.pay",
        "engaged_seconds": "w.seconds",
    }
    rest = f"""
        FROM (
            SELECT e.driver_id, e.market_id, e.currency,
                SUM(CASE WHEN e.kind = 'trip' THEN e.engaged_seconds ELSE 0 END) AS seconds,
                SUM(e.pay_cents) AS pay
            FROM payouts_earning e
            WHERE e.market_id = %s AND e.earned_at >= %s AND e.earned_at < %s
              AND e.kind IN ('trip', 'cancellation', 'block_guarantee')
            GROUP BY e.driver_id, e.market_id, e.currency
        ) w
        WHERE {owed} > w.pay
          AND NOT EXISTS (SELECT 1 FROM payouts_earning f WHERE f.kind = 'floor_topup'
              AND f.driver_id = w.driver_id AND f.market_id = w.market_id
              AND f.period_start = %s)"""
    earned_at = week_end - timedelta(microseconds=1)  # inside the week it tops up
    params = (period_start, earned_at, floor, market_id, week_start, week_end, floor)
    return _select(lines, rest), (*params, period_start)


# --- posting --------------------------------------------------------------------------------


def _run(stages: list[Stage], *, actor: Actor, merged: bool = False) -> int:
    """Write every stage's lines under reserved transaction ids, then the transactions and
    their entries. Returns the number of lines posted."""
    run = uuid.uuid4().hex
    currencies = _currencies()
    ids = _sql.reserve_ids(JournalTransaction, len(currencies))
    _sql.temp_table(TXNS, "currency varchar(3), transaction_id bigint")
    _sql.insert_rows(TXNS, ("currency", "transaction_id"), list(zip(currencies, ids, strict=True)))
    _sql.temp_table(
        SUMS,
        "driver_id bigint, currency varchar(3), pay bigint, tip bigint, lines bigint, "
        "earned_at timestamp with time zone",
    )
    now = clock.now()
    for stage in stages:
        select_sql, params = stage()
        _lines_insert(select_sql, params, now, merged=merged)
    if not _sql.is_postgres():
        _sums_from_table()
    posted = _sql.fetchall(f"SELECT COALESCE(SUM(lines), 0) FROM {SUMS}")[0][0]
    if posted:
        _transactions_insert(run=run, now=now, actor=actor)
    for table in (TXNS, SUMS, RATES):
        _sql.drop(table)
    return int(posted)


def _currencies() -> list[str]:
    """Every currency a run may post in: each market's, and USD."""
    markets = order_selectors.market_list(active_only=False)
    return sorted(set(markets.values_list("currency", flat=True)) | {"USD"})


def _lines_insert(
    select_sql: str, params: tuple[Any, ...], now: datetime, *, merged: bool = False
) -> None:
    pay = " + ".join(f"x.{c}" for c in LINES)
    # The run's reserved transaction id per currency (no join: a handful of constants).
    ids = _sql.fetchall(f"SELECT currency, transaction_id FROM {TXNS} ORDER BY currency")
    if not all(re.fullmatch("[A-Z]{3}", c) for c, _ in ids):
        raise ValueError("currency codes only")  # they are written into the SQL below
    txn = "CASE x.currency " + " ".join(f"WHEN '{c}' THEN {int(i)}" for c, i in ids) + " END"
    insert = f"""
        INSERT INTO payouts_earning ({", ".join(COLUMNS)}, journal_transaction_id, pay_cents,
            total_cents, created_at)
        SELECT {", ".join("x." + c for c in COLUMNS)}, {txn}, {pay},
            {pay} + x.tip_cents, %s
        FROM ({select_sql}) x{"" if merged else " ORDER BY x.driver_id, x.earned_at"}"""
    # Hash joins hand the rows over in no useful order: sorted by (driver, time), the (driver,
    # earned_at) index grows page by page (inserting in hash-join order was pathologically
    # slower on PostgreSQL 15 with 1 M lines). A sharded week's merge joins (`merged`) hand
    # them over in trip order already, which the unique (trip, kind, seq) index likes best:
    # sorting them again cost 0.5-1 s a shard for nothing.
    if _sql.is_postgres():
        # The totals per driver come back from the INSERT itself, no second read.
        _sql.execute(
            f"""
            WITH ins AS ({insert} RETURNING driver_id, currency, pay_cents, tip_cents, earned_at)
            INSERT INTO {SUMS} (driver_id, currency, pay, tip, lines, earned_at)
            SELECT driver_id, currency, SUM(pay_cents), SUM(tip_cents), COUNT(*), MAX(earned_at)
            FROM ins GROUP BY driver_id, currency
            """,
            (now, *params),
        )
    else:
        _sql.execute(insert, (now, *params))


def _sums_from_table() -> None:
    _sql.execute(
        f"""
        INSERT INTO {SUMS} (driver_id, currency, pay, tip, lines, earned_at)
        SELECT driver_id, currency, SUM(pay_cents), SUM(tip_cents), COUNT(*), MAX(earned_at)
        FROM payouts_earning WHERE journal_transaction_id IN (SELECT transaction_id FROM {TXNS})
        GROUP BY driver_id, currency
        """
    )


def _transactions_insert(*, run: str, now: datetime, actor: Actor) -> None:
    """The run's journal transactions (with their reserved ids) and, in one statement so the
    balance trigger sees each whole, their entries."""
    ledger.driver_accounts_open(f"SELECT driver_id, currency FROM {SUMS}")
    for (currency,) in _sql.fetchall(f"SELECT DISTINCT currency FROM {SUMS}"):
        ledger.platform_accounts(currency=currency)
    _sql.execute(
        f"""
        INSERT INTO payouts_journaltransaction (id, external_id, kind, currency, effective_at,
            posted_at, description, actor_label, reason)
        SELECT m.transaction_id, %s || m.currency, 'earnings', m.currency, MAX(s.earned_at), %s,
            CAST(SUM(s.lines) AS varchar(20)) || ' earnings lines, '
            || CAST(COUNT(DISTINCT s.driver_id) AS varchar(20)) || ' drivers', %s, ''
        FROM {TXNS} m JOIN {SUMS} s ON s.currency = m.currency
        GROUP BY m.transaction_id, m.currency
        """,
        [f"earnings:{run}:", now, actor.label],
    )

    def leg(kind: str, amount: str, per_driver: bool) -> str:
        who = "a.driver_id = s.driver_id" if per_driver else "a.driver_id IS NULL"
        group = "s.driver_id, " if per_driver else ""
        return (
            f"SELECT m.transaction_id, a.id, {amount}, s.currency FROM {SUMS} s "
            f"JOIN {TXNS} m ON m.currency = s.currency "
            f"JOIN payouts_account a ON a.kind = '{kind}' AND {who} AND a.currency = s.currency "
            f"GROUP BY m.transaction_id, a.id, {group}s.currency HAVING {amount} <> 0"
        )

    _sql.execute(
        "INSERT INTO payouts_journalentry (transaction_id, account_id, amount_cents, currency) "
        + " UNION ALL ".join(
            [
                leg("driver_payable", "-SUM(s.pay + s.tip)", True),
                leg("delivery_expense", "SUM(s.pay)", False),
                leg("tips_payable", "SUM(s.tip)", False),
            ]
        )
    )


# --- entry points ---------------------------------------------------------------------------


@transaction.atomic
def earnings_post(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    market_id: int | None = None,
    wait: bool = False,
) -> int:
    """Post every business event finished in [since, until) and not posted yet.

    Defaults: until now; since where the last sweep got to (see _since_last_run). The beat
    sweep skips when another sweep is running; settlement passes `wait` to queue behind it.
    Returns the number of earnings lines posted.
    """
    if wait:
        _sql.advisory_xact_lock(LOCK)
    elif not try_advisory_xact_lock(LOCK):
        return 0  # another sweep is running; the next one picks up what this one would
    return _post(since=since, until=until, market_id=market_id)


def earnings_post_sharded(*, since: datetime, until: datetime, workers: int) -> int:
    """Settlement's sweep of a whole week, with the drivers split into `workers` id ranges
    posted side by side, one connection and transaction each (PostgreSQL, outside a caller's
    transaction, whose rows the threads could not see; otherwise one earnings_post).

    This connection holds the sweep's lock for the whole run, so no other sweep posts
    meanwhile and no two ranges ever overlap. A range that fails leaves the others posted,
    and the next run finishes it."""
    if workers <= 1 or not _sql.is_postgres() or connection.in_atomic_block:
        return earnings_post(since=since, until=until, wait=True)
    bounds: list[int | None] = [None, *driver_selectors.driver_id_bounds(parts=workers), None]
    ranges = list(itertools.pairwise(bounds))

    def shard(drivers: DriverRange) -> int:
        try:
            with transaction.atomic():
                # The commit does not wait for the disk (0.3 s per shard at 1 M trips). A crash
                # may then lose the whole run, never part of it, and losing it is harmless: the
                # run is idempotent, settlement posts it again, and nothing leaves the database
                # on the strength of these rows before a later commit that does wait (the
                # batch's), which flushes everything written before it.
                _sql.commit_without_waiting()
                return _post(since=since, until=until, market_id=None, drivers=drivers)
        finally:
            connection.close()

    # The platform's accounts, before the shards would race to open them.
    for currency in _currencies():
        ledger.platform_accounts(currency=currency)
    with _sql.advisory_session_lock(LOCK), ThreadPoolExecutor(len(ranges)) as pool:
        return sum(pool.map(shard, ranges))


def _post(
    *,
    since: datetime | None,
    until: datetime | None,
    market_id: int | None,
    drivers: DriverRange | None = None,
) -> int:
    """earnings_post's work, in a transaction that holds the sweep's lock. With `drivers`,
    one shard of earnings_post_sharded's whole week: planned with merge joins."""
    whole_week = drivers is not None
    _sql.tune_for_bulk(merge_joins=whole_week)
    now = clock.now()
    until = min(until or now, now)
    oldest = until - settings.PAYOUTS_SWEEP_LOOKBACK
    w = Window(since or _since_last_run(oldest), until, market_id, drivers)
    # Blocks may be marked completed well after they end: always the whole lookback.
    blocks = Window(since or oldest, until, market_id, drivers)
    _rate_cards_load(market_id)
    return _run(
        [
            lambda: _trips_completed(w),
            lambda: _trips_cancelled(w),
            lambda: _tip_changes(w),
            lambda: _block_guarantees(blocks),
        ],
        actor=Actor.system("payouts.earnings"),
        merged=whole_week,
    )


def _since_last_run(oldest: datetime) -> datetime:
    """Where the previous sweep got to (its newest trip), less an hour for trips that
    committed late; never further back than the lookback. Keeps the minute sweep's scans small
    however many trips are already paid; settlement re-checks its whole week anyway."""
    newest = (
        Earning.objects.filter(kind=Earning.Kind.TRIP)
        .order_by("-id")
        .values_list("earned_at", flat=True)
        .first()
    )
    if newest is None:
        return oldest
    return max(oldest, newest - SWEEP_OVERLAP)


def tip_changes_post(*, trip_ids: list[int], note: str, actor: Actor) -> int:
    """Post the tip difference of these trips now (the ops-reviewed decrease); the caller's
    transaction holds the order's new tip."""
    _sql.advisory_xact_lock(LOCK)
    w = Window(since=None, until=clock.now())
    return _run([lambda: _tip_changes(w, trip_ids=trip_ids, note=note)], actor=actor)


def floor_topups_post(
    *,
    market_id: int,
    week_start: datetime,
    week_end: datetime,
    period_start: object,
    floor: int,
) -> int:
    _sql.advisory_xact_lock(LOCK)
    _rate_cards_load(market_id)
    return _run(
        [
            lambda: _floor_topups(
                market_id=market_id,
                week_start=week_start,
                week_end=week_end,
                period_start=period_start,
                floor=floor,
            )
        ],
        actor=Actor.system("payouts.floor"),
    )
