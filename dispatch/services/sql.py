"""The trip steps' hottest statements, written out in SQL (P11).

A delivered order costs its trip a dozen statements: lock the trip, read or lock its stops,
move it, append its events, tell the orders where the driver is. The ORM spends several times
longer composing those (and instantiating wide rows) than the database spends running them, so
these few are written once: plain SQL that PostgreSQL and SQLite both run, every value prepared
by its model field for the backend at hand (as offer_accept does, P7), and every column read
back through the field's converters, as the ORM would (`Rows`).

The generic part (Rows, fetch, insert, update) is the same as orders/services/sql.py: apps do
not share internals, and the shared kernel (spark.lib) is not this change's to edit.
"""

import weakref
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    AutoField,
    BooleanField,
    CharField,
    Field,
    FileField,
    FloatField,
    ForeignKey,
    IntegerField,
    Model,
    TextField,
)

from dispatch.models import Offer, Trip, TripStop


def marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def prep(model: type[Model], name: str, value: object) -> object:
    """A value as the model field sends it to this database (UUIDs, datetimes, JSON, ...)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def _plain_types(field: Field) -> tuple[type, ...]:
    """Python types the field sends to the database unchanged (prepping them is a no-op)."""
    if isinstance(field, ForeignKey):
        field = field.target_field
    if isinstance(field, BooleanField):
        return (bool,)
    if isinstance(field, CharField | TextField):
        return (str,)
    if isinstance(field, IntegerField | AutoField):
        return (int,)
    if isinstance(field, FloatField):
        return (float,)
    return ()


class Rows:
    """A model's columns in SQL, and values to and from them, as the ORM converts them.

    What the ORM works out on every query (the column list, each field's converters) is worked
    out once per model and database connection; a row is then a few calls. Values of plain
    types (str, int, float, bool, None) go to the database as they are, as the fields would
    send them; the others (datetimes, UUIDs, JSON, ...) through the field.
    """

    _cache: "weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], Rows]]" = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, model: type[Model], wrapper: BaseDatabaseWrapper) -> None:
        self.model = model
        self.fields = model._meta.concrete_fields
        self.wrapper = weakref.ref(wrapper)
        self.alias = wrapper.alias
        quote = wrapper.ops.quote_name
        self.names = [quote(f.column) for f in self.fields]
        self.converters = []
        for i, field in enumerate(self.fields):
            col = field.get_col(model._meta.db_table)
            found = wrapper.ops.get_db_converters(col) + col.get_db_converters(wrapper)
            if found:
                self.converters.append((i, found, col))
        # INSERT: every column but the id; auto_now fields and files fill themselves in.
        self.insert_fields = [f for f in self.fields if not f.primary_key]
        self.insert_head = "INSERT INTO {} ({}) VALUES ".format(  # noqa: S608
            model._meta.db_table, ", ".join(quote(f.column) for f in self.insert_fields)
        )
        self.insert_row = f"({marks(len(self.insert_fields))})"
        self.getters = [
            (None, f)
            if getattr(f, "auto_now", False)
            or getattr(f, "auto_now_add", False)
            or isinstance(f, FileField)
            else (f.attname, f)
            for f in self.insert_fields
        ]
        self.plain = {f.name: _plain_types(f) for f in self.fields}
        self.plain |= {f.attname: self.plain[f.name] for f in self.fields}

    @classmethod
    def of(cls, model: type[Model]) -> "Rows":
        wrapper = connections[connection.alias]
        by_model = cls._cache.setdefault(wrapper, {})
        if model not in by_model:
            by_model[model] = cls(model, wrapper)
        return by_model[model]

    def columns(self, alias: str) -> str:
        """`alias.col1, alias.col2, ...`: every column, in the model's order."""
        return ", ".join(f"{alias}.{name}" for name in self.names)

    def instance(self, row: Sequence[Any], start: int = 0) -> Model:
        """The model instance of len(fields) values of a row, from `start`."""
        values = list(row[start : start + len(self.fields)])
        wrapper = self.wrapper()
        for i, found, col in self.converters:
            value = values[i]
            if value is not None or len(found) > 1:
                for convert in found:
                    value = convert(value, col, wrapper)
                values[i] = value
        return self.model.from_db(self.alias, None, values)

    def to_db(self, field: Field, value: Any) -> Any:
        """The value as the field would send it to the database."""
        plain = self.plain[field.name]
        if (
            value is None
            or (plain and type(value) in plain)
            or (
                plain == (str,) and isinstance(value, str)  # text choices
            )
        ):
            return value
        return field.get_db_prep_save(value, self.wrapper())

    def insert_params(self, obj: Model) -> list[Any]:
        return [
            self.to_db(f, getattr(obj, attname) if attname else f.pre_save(obj, True))
            for attname, f in self.getters
        ]


def fetch(sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def insert(model: type[Model], objs: Sequence[Model], *, ids: bool = False) -> None:
    """Multi-row INSERTs of new rows (bulk_create, written out). With `ids` each object gets
    its id back (RETURNING, in the order of the rows, as bulk_create relies on too); without,
    nothing is read back (audit and outbox rows: nothing refers to them in the transaction)."""
    if not objs:
        return
    rows = Rows.of(model)
    # SQLite caps the parameters of a statement.
    size = max(1, connection.ops.bulk_batch_size(rows.insert_fields, objs))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start : start + size]
            params = [value for obj in batch for value in rows.insert_params(obj)]
            sql = rows.insert_head + ", ".join([rows.insert_row] * len(batch))
            cursor.execute(sql + " RETURNING id" if ids else sql, params)
            if ids:
                for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                    obj.pk = pk
                    obj._state.adding, obj._state.db = False, rows.alias


def update(
    model: type[Model], ids: Iterable[int], values: dict[str, Any], *, key: str = "id"
) -> int:
    """UPDATE <model> SET <values> WHERE <key> IN <ids> (QuerySet.update(), written out):
    the number of rows."""
    ids = list(ids)
    if not ids or not values:
        return 0
    rows = Rows.of(model)
    fields = [model._meta.get_field(name) for name in values]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    params = [
        rows.to_db(f, v.pk if isinstance(v, Model) else v)
        for f, v in zip(fields, values.values(), strict=True)
    ]
    column = quote(model._meta.get_field(key).column)
    table = model._meta.db_table
    sql = f"UPDATE {table} SET {sets} WHERE {column} IN ({marks(len(ids))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids])
        return cursor.rowcount


def aware(value: Any) -> Any:
    """A datetime column read with a plain cursor, as the ORM returns it (aware)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=connection.timezone)  # SQLite: naive UTC


def _for_update(*, skip_locked: bool = False) -> str:
    if not connection.features.has_select_for_update:
        return ""
    if skip_locked and connection.features.has_select_for_update_skip_locked:
        return " FOR UPDATE SKIP LOCKED"
    return " FOR UPDATE"


def _trips(where: str, params: list[object], lock: str) -> list[Trip]:
    rows = Rows.of(Trip)
    sql = f"SELECT {rows.columns('t')} FROM {Trip._meta.db_table} t WHERE {where}"  # noqa: S608
    return [rows.instance(row) for row in fetch(sql + lock, params)]


def lock_trip(
    trip_id: int, *, driver_id: int | None = None, skip_locked: bool = False
) -> Trip | None:
    """The trip, locked (and only if it is this driver's, when driver_id is given); None when
    it is not found, or, with `skip_locked`, when another transaction holds it."""
    where, params = "t.id = %s", [trip_id]
    if driver_id is not None:
        where, params = where + " AND t.driver_id = %s", [trip_id, driver_id]
    found = _trips(where, params, _for_update(skip_locked=skip_locked))
    return found[0] if found else None


def lock_trips(trip_ids: list[int]) -> list[Trip]:
    """Trips by id, locked in id order (a round's offers move hundreds at once)."""
    if not trip_ids:
        return []
    where = f"t.id IN ({marks(len(trip_ids))}) ORDER BY t.id"
    return _trips(where, list(trip_ids), _for_update())


def _stops(where: str, params: list[object], lock: str = "") -> list[TripStop]:
    rows = Rows.of(TripStop)
    table = TripStop._meta.db_table
    sql = f"SELECT {rows.columns('s')} FROM {table} s WHERE {where}"  # noqa: S608
    return [rows.instance(row) for row in fetch(sql + lock, params)]


def active_stops(trip_id: int) -> list[TripStop]:
    """The trip's active stops in driving order."""
    return _stops("s.trip_id = %s AND s.is_active = %s ORDER BY s.sequence", [trip_id, True])


def lock_stop(trip_id: int, order_id: int) -> TripStop | None:
    """The order's active stop on the trip, locked."""
    where = "s.trip_id = %s AND s.order_id = %s AND s.is_active = %s"
    found = _stops(where, [trip_id, order_id, True], _for_update())
    return found[0] if found else None


def lock_stops_of_cancelled_orders(*, market_id: int, cancelled: str) -> list[tuple[int, int]]:
    """(stop id, trip id) of the pending stops of live trips of the market whose order the shop
    cancelled, locked (every round sweeps them; almost always none)."""
    live = sorted(Trip.ACTIVE)
    order_table = TripStop._meta.get_field("order").related_model._meta.db_table
    lock = " OF s" if connection.features.has_select_for_update_of else ""
    query = (
        f"SELECT s.id, s.trip_id FROM {TripStop._meta.db_table} s"  # noqa: S608
        f" INNER JOIN {Trip._meta.db_table} t ON t.id = s.trip_id"
        f" INNER JOIN {order_table} o ON o.id = s.order_id"
        " WHERE s.is_active = %s AND s.status = %s AND t.market_id = %s"
        f" AND t.status IN ({marks(len(live))}) AND o.status = %s ORDER BY s.sequence"
        f"{_for_update() + lock if _for_update() else ''}"
    )
    return fetch(query, [True, TripStop.Status.PENDING, market_id, *live, cancelled])


def pending_order_ids_by_driver(driver_ids: list[int]) -> dict[int, list[int]]:
    """{driver id: ids of the orders still to deliver on the driver's live trip}, for the
    drivers that have one (a ping moves the courier of those orders)."""
    if not driver_ids:
        return {}
    live = sorted(Trip.WITH_DRIVER)
    sql = (
        f"SELECT t.driver_id, s.order_id FROM {TripStop._meta.db_table} s"  # noqa: S608
        f" INNER JOIN {Trip._meta.db_table} t ON t.id = s.trip_id"
        f" WHERE s.is_active = %s AND s.status = %s AND t.driver_id IN ({marks(len(driver_ids))})"
        f" AND t.status IN ({marks(len(live))}) ORDER BY s.order_id"
    )
    out: dict[int, list[int]] = {}
    for driver_id, order_id in fetch(sql, [True, TripStop.Status.PENDING, *driver_ids, *live]):
        out.setdefault(driver_id, []).append(order_id)
    return out


# --- a round's reads ------------------------------------------------------------------------


def order_ids_in_live_trips(*, market_id: int) -> set[int]:
    """Orders on an active stop of a live trip of the market (not new to a round)."""
    live = sorted(Trip.ACTIVE)
    query = (
        f"SELECT s.order_id FROM {TripStop._meta.db_table} s"  # noqa: S608
        f" INNER JOIN {Trip._meta.db_table} t ON t.id = s.trip_id"
        f" WHERE s.is_active = %s AND t.market_id = %s AND t.status IN ({marks(len(live))})"
    )
    return {order_id for (order_id,) in fetch(query, [True, market_id, *live])}


def pooled_trips(*, market_id: int) -> list[tuple[int, int, int, int, list[int]]]:
    """The market's pooled trips in id order: (id, store id, boost, unaccepted rounds, the
    ascending ids of the orders on its active stops)."""
    query = (
        "SELECT t.id, t.store_id, t.boost_cents, t.unaccepted_rounds, s.order_id"  # noqa: S608
        f" FROM {Trip._meta.db_table} t LEFT OUTER JOIN {TripStop._meta.db_table} s"
        " ON s.trip_id = t.id AND s.is_active = %s"
        " WHERE t.market_id = %s AND t.status = %s ORDER BY t.id, s.order_id"
    )
    out: list[tuple[int, int, int, int, list[int]]] = []
    for trip_id, store_id, boost, rounds, order_id in fetch(
        query, [True, market_id, Trip.Status.POOLED]
    ):
        if not out or out[-1][0] != trip_id:
            out.append((trip_id, store_id, boost, rounds, []))
        if order_id is not None:
            out[-1][4].append(order_id)
    return out


def driver_ids_busy(driver_ids: list[int]) -> set[int]:
    """Drivers on a trip, or with an offer open (a round offers them nothing)."""
    if not driver_ids:
        return set()
    live = sorted(Trip.WITH_DRIVER)
    ids = marks(len(driver_ids))
    query = (
        f"SELECT driver_id FROM {Trip._meta.db_table}"  # noqa: S608
        f" WHERE driver_id IN ({ids}) AND status IN ({marks(len(live))})"
        f" UNION SELECT driver_id FROM {Offer._meta.db_table}"
        f" WHERE driver_id IN ({ids}) AND status = %s"
    )
    params = [*driver_ids, *live, *driver_ids, Offer.Status.OPEN]
    return {driver_id for (driver_id,) in fetch(query, params)}


def busy_since(driver_ids: list[int], *, since: object) -> dict[int, timedelta]:
    """Time each driver spent on trips completed since then: SUM(completed_at - assigned_at)
    per driver, added up here in whole microseconds as the database would."""
    if not driver_ids:
        return {}
    at = Trip._meta.get_field("completed_at")
    query = (
        f"SELECT driver_id, assigned_at, completed_at FROM {Trip._meta.db_table}"  # noqa: S608
        f" WHERE driver_id IN ({marks(len(driver_ids))}) AND completed_at >= %s"
        " AND assigned_at IS NOT NULL"
    )
    busy: dict[int, timedelta] = {}
    for driver_id, assigned_at, completed_at in fetch(
        query, [*driver_ids, at.get_db_prep_value(since, connection)]
    ):
        # Both naive (SQLite, UTC) or both aware (PostgreSQL): the difference is the same.
        busy[driver_id] = busy.get(driver_id, timedelta()) + (completed_at - assigned_at)
    return busy


def pending_order_ids(trip_ids: list[int]) -> list[int]:
    """The orders on the pending active stops of these trips."""
    if not trip_ids:
        return []
    query = (
        f"SELECT order_id FROM {TripStop._meta.db_table}"  # noqa: S608
        f" WHERE trip_id IN ({marks(len(trip_ids))}) AND is_active = %s AND status = %s"
    )
    return [i for (i,) in fetch(query, [*trip_ids, True, TripStop.Status.PENDING])]
