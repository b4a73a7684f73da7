"""The trip steps' hottest statements, written out in SQL (P11).

A delivered order costs its trip a dozen statements: lock the trip, read or lock its stops,
move it, append its events, tell the orders where the driver is. The ORM spends several times
longer composing those (and instantiating wide rows) than the database spends running them, so
these few are written once with the helpers of spark.lib.sql (values prepared by their model
fields, columns read back through the fields' converters, as the ORM would).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection

from dispatch.models import Block, BlockReservation, Offer, Trip, TripStop
from spark.lib.sql import Rows, any_of, fetch, literal, literals


def _for_update(*, skip_locked: bool = False, of: str = "") -> str:
    """The locking clause (none on SQLite); `of`: the aliases to lock, where supported."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    lock = " FOR UPDATE"
    if of and features.has_select_for_update_of:
        lock += f" OF {of}"
    if skip_locked and features.has_select_for_update_skip_locked:
        lock += " SKIP LOCKED"
    return lock


def _trips(where: str, params: list[object], lock: str) -> list[Trip]:
    rows = Rows.of(Trip)
    sql = f"SELECT {rows.columns('t')} FROM {Trip._meta.db_table} t WHERE {where}"  # noqa: S608
    return [rows.instance(row) for row in fetch(sql + lock, params)]


def _trip_where(trip_id: int, driver_id: int | None) -> tuple[str, list[object]]:
    """The trip by id (on alias `t`), and only if it is this driver's when driver_id is given."""
    if driver_id is None:
        return "t.id = %s", [trip_id]
    return "t.id = %s AND t.driver_id = %s", [trip_id, driver_id]


def lock_trip(
    trip_id: int, *, driver_id: int | None = None, skip_locked: bool = False
) -> Trip | None:
    """The trip, locked (and only if it is this driver's, when driver_id is given); None when
    it is not found, or, with `skip_locked`, when another transaction holds it."""
    found = _trips(*_trip_where(trip_id, driver_id), _for_update(skip_locked=skip_locked))
    return found[0] if found else None


def lock_trips(trip_ids: list[int]) -> list[Trip]:
    """Trips by id, locked in id order (a round's offers move hundreds at once)."""
    if not trip_ids:
        return []
    where, params = any_of("t.id", trip_ids)
    return _trips(where + " ORDER BY t.id", params, _for_update())


def lock_trip_with_stops(
    trip_id: int,
    *,
    driver_id: int | None = None,
    lock_stops: bool = False,
    skip_locked: bool = False,
) -> tuple[Trip, list[TripStop]] | None:
    """The trip, locked (and only if it is this driver's, when driver_id is given), with its
    active stops in driving order, in one read (every step of a trip needs both; P11). With
    `lock_stops` the stops are locked too (the door steps change one and look at them all).
    None when the trip is not found, or, with `skip_locked`, when another transaction holds
    it."""
    trips, stops = Rows.of(Trip), Rows.of(TripStop)
    where, params = _trip_where(trip_id, driver_id)
    lock = _for_update(skip_locked=skip_locked, of="t, s" if lock_stops else "t")
    sql = (
        f"SELECT {trips.columns('t')}, {stops.columns('s')}"  # noqa: S608
        f" FROM {Trip._meta.db_table} t INNER JOIN {TripStop._meta.db_table} s"
        f" ON s.trip_id = t.id AND s.is_active = {literal(True)}"
        f" WHERE {where} ORDER BY s.sequence{lock}"
    )
    rows = fetch(sql, params)
    if not rows:  # not found, or a trip without active stops (each cancelled, say)
        trip = lock_trip(trip_id, driver_id=driver_id, skip_locked=skip_locked)
        return None if trip is None else (trip, [])
    start = len(trips.fields)
    return trips.instance(rows[0]), [stops.instance(row, start) for row in rows]


def _stops(where: str, params: list[object], lock: str = "") -> list[TripStop]:
    rows = Rows.of(TripStop)
    table = TripStop._meta.db_table
    sql = f"SELECT {rows.columns('s')} FROM {table} s WHERE {where}"  # noqa: S608
    return [rows.instance(row) for row in fetch(sql + lock, params)]


def active_stops(trip_id: int) -> list[TripStop]:
    """The trip's active stops in driving order."""
    where = f"s.trip_id = %s AND s.is_active = {literal(True)} ORDER BY s.sequence"
    return _stops(where, [trip_id])


def lock_stop(trip_id: int, order_id: int) -> TripStop | None:
    """The order's active stop on the trip, locked."""
    where = f"s.trip_id = %s AND s.order_id = %s AND s.is_active = {literal(True)}"
    found = _stops(where, [trip_id, order_id], _for_update())
    return found[0] if found else None


def lock_stops_of_cancelled_orders(*, market_id: int, cancelled: str) -> list[tuple[int, int]]:
    """(stop id, trip id) of the pending stops of live trips of the market whose order the shop
    cancelled, locked (every round sweeps them; almost always none)."""
    order_table = TripStop._meta.get_field("order").related_model._meta.db_table
    lock = " OF s" if connection.features.has_select_for_update_of else ""
    query = (
        f"SELECT s.id, s.trip_id FROM {TripStop._meta.db_table} s"  # noqa: S608
        f" INNER JOIN {Trip._meta.db_table} t ON t.id = s.trip_id"
        f" INNER JOIN {order_table} o ON o.id = s.order_id"
        f" WHERE s.is_active = {literal(True)} AND s.status = {literal(TripStop.Status.PENDING)}"
        f" AND t.market_id = %s AND t.status IN ({literals(sorted(Trip.ACTIVE))})"
        f" AND o.status = {literal(cancelled)} ORDER BY s.sequence"
        f"{_for_update() + lock if _for_update() else ''}"
    )
    return fetch(query, [market_id])


def pending_order_ids_by_driver(driver_ids: list[int]) -> dict[int, list[int]]:
    """{driver id: ids of the orders still to deliver on the driver's live trip}, for the
    drivers that have one (a ping moves the courier of those orders)."""
    if not driver_ids:
        return {}
    drivers, params = any_of("t.driver_id", driver_ids)
    sql = (
        f"SELECT t.driver_id, s.order_id FROM {TripStop._meta.db_table} s"  # noqa: S608
        f" INNER JOIN {Trip._meta.db_table} t ON t.id = s.trip_id"
        f" WHERE s.is_active = {literal(True)} AND s.status = {literal(TripStop.Status.PENDING)}"
        f" AND {drivers} AND t.status IN ({literals(sorted(Trip.WITH_DRIVER))})"
        " ORDER BY s.order_id"
    )
    out: dict[int, list[int]] = {}
    for driver_id, order_id in fetch(sql, params):
        out.setdefault(driver_id, []).append(order_id)
    return out


# --- a round's reads ------------------------------------------------------------------------


PooledRow = tuple[int, int, int, int, list[int]]


def live_trips(*, market_id: int) -> tuple[set[int], list[PooledRow]]:
    """The market's live trips, in one read: the orders on their active stops (not new to a
    round), and the pooled trips in id order, each as (id, store id, boost, unaccepted
    rounds, the ascending ids of the orders on its active stops)."""
    query = (
        "SELECT t.id, t.store_id, t.boost_cents, t.unaccepted_rounds, t.status, s.order_id"  # noqa: S608
        f" FROM {Trip._meta.db_table} t LEFT OUTER JOIN {TripStop._meta.db_table} s"
        f" ON s.trip_id = t.id AND s.is_active = {literal(True)}"
        f" WHERE t.market_id = %s AND t.status IN ({literals(sorted(Trip.ACTIVE))})"
        " ORDER BY t.id, s.order_id"
    )
    in_trips: set[int] = set()
    pooled: list[PooledRow] = []
    for trip_id, store_id, boost, rounds, status, order_id in fetch(query, [market_id]):
        if order_id is not None:
            in_trips.add(order_id)
        if status != Trip.Status.POOLED:
            continue
        if not pooled or pooled[-1][0] != trip_id:
            pooled.append((trip_id, store_id, boost, rounds, []))
        if order_id is not None:
            pooled[-1][4].append(order_id)
    return in_trips, pooled


@dataclass(frozen=True)
class DriversLoad:
    """What a round needs to know of its online drivers' work (drivers_load)."""

    busy: set[int]  # on a trip, or with an offer open: a round offers them nothing
    hours: dict[int, timedelta]  # time on trips completed since `since` (the fairness term)
    on_block: set[int]  # working a reserved block at `at`


def drivers_load(driver_ids: list[int], *, since: object, at: object) -> DriversLoad:
    """The drivers' load, in one read: who is busy, SUM(completed_at - assigned_at) of their
    trips completed since then (computed by the database as the ORM's aggregate would, whole
    microseconds), and who is working a reserved block."""
    if not driver_ids:
        return DriversLoad(set(), {}, set())
    diff, _ = connection.ops.subtract_temporals(
        "DateTimeField", ("completed_at", ()), ("assigned_at", ())
    )
    drivers, ids = any_of("driver_id", driver_ids)
    reserved, reserved_ids = any_of("r.driver_id", driver_ids)
    trips, offers = Trip._meta.db_table, Offer._meta.db_table
    query = (
        # the first branch types the third column (an interval on PostgreSQL)
        f"SELECT 'hours', driver_id, SUM({diff}) FROM {trips}"  # noqa: S608
        f" WHERE {drivers} AND completed_at >= %s GROUP BY driver_id"
        f" UNION ALL SELECT 'busy', driver_id, NULL FROM {trips}"
        f" WHERE {drivers} AND status IN ({literals(sorted(Trip.WITH_DRIVER))})"
        f" UNION ALL SELECT 'busy', driver_id, NULL FROM {offers}"
        f" WHERE {drivers} AND status = {literal(Offer.Status.OPEN)}"
        f" UNION ALL SELECT 'block', r.driver_id, NULL FROM {BlockReservation._meta.db_table} r"
        f" INNER JOIN {Block._meta.db_table} b ON b.id = r.block_id"
        f" WHERE {reserved} AND r.status = {literal(BlockReservation.Status.RESERVED)}"
        " AND b.starts_at <= %s AND b.ends_at > %s"
    )
    since_db = Trip._meta.get_field("completed_at").get_db_prep_value(since, connection)
    at_db = Block._meta.get_field("starts_at").get_db_prep_value(at, connection)
    params = [*ids, since_db, *ids, *ids, *reserved_ids, at_db, at_db]
    load = DriversLoad(set(), {}, set())
    for kind, driver_id, total in fetch(query, params):
        if kind == "busy":
            load.busy.add(driver_id)
        elif kind == "block":
            load.on_block.add(driver_id)
        elif total is not None:
            # PostgreSQL sums intervals; SQLite sums the microseconds of Django's diff function.
            as_time = total if isinstance(total, timedelta) else timedelta(microseconds=total)
            load.hours[driver_id] = as_time
    return load


def pending_order_ids(trip_ids: list[int]) -> list[int]:
    """The orders on the pending active stops of these trips."""
    if not trip_ids:
        return []
    trips, params = any_of("trip_id", trip_ids)
    query = (
        f"SELECT order_id FROM {TripStop._meta.db_table}"  # noqa: S608
        f" WHERE {trips} AND is_active = {literal(True)}"
        f" AND status = {literal(TripStop.Status.PENDING)}"
    )
    return [i for (i,) in fetch(query, params)]


def offer_get(offer_id: int) -> Offer:
    rows = Rows.of(Offer)
    query = f"SELECT {rows.columns('o')} FROM {Offer._meta.db_table} o WHERE o.id = %s"  # noqa: S608
    return rows.instance(fetch(query, [offer_id])[0])
