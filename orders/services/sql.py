"""The order lifecycle's hottest statements, written out in SQL (P11).

Every order moves about ten times between created and delivered, and each move locks the order,
updates it, appends its event, rereads its events for the webhook and writes the outbox row. The
ORM spends several times longer composing those statements, and instantiating 40-column rows,
than the database spends running them (a simulated city day: ~85 % of the CPU). These are the
same statements, written once: plain SQL that PostgreSQL and SQLite both run, every value
prepared by its model field for the backend at hand (as `Offer` accept does, P7), and every
column read back through the field's converters, as the ORM would (`Rows`).

dispatch/services/sql.py holds the same helpers for the trip steps (apps do not share internals).
"""

import uuid
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime
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

from orders.models import Market, Merchant, Order, OrderEvent, Store, WebhookEndpoint


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


def lock_orders(where: str, params: list[object]) -> list[Order]:
    """Orders matching `where` (on alias `o`), locked, in id order. Each comes with what its
    webhook needs: its store's public id (`store_public_id`) and whether its merchant has an
    active endpoint (`has_webhooks`), read in the same statement."""
    lock = ""
    if connection.features.has_select_for_update:
        lock = " FOR UPDATE OF o" if connection.features.has_select_for_update_of else " FOR UPDATE"
    rows = Rows.of(Order)
    sql = (
        f"SELECT {rows.columns('o')}, s.public_id, EXISTS("  # noqa: S608
        f"SELECT 1 FROM {WebhookEndpoint._meta.db_table} ep"
        " WHERE ep.merchant_id = o.merchant_id AND ep.is_active = %s)"
        f" FROM {Order._meta.db_table} o INNER JOIN {Store._meta.db_table} s ON s.id = o.store_id"
        f" WHERE {where} ORDER BY o.id{lock}"
    )
    orders = []
    for row in fetch(sql, [True, *params]):
        order = rows.instance(row)
        # The raw column: a UUID on PostgreSQL, its hex on SQLite.
        order.store_public_id = str(uuid.UUID(str(row[-2])))
        order.has_webhooks = bool(row[-1])
        orders.append(order)
    return orders


def update_orders(ids: Iterable[int], values: dict[str, Any]) -> int:
    return update(Order, ids, values)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes (Django's converter makes them aware; so do we).
    return value if value.tzinfo is not None else value.replace(tzinfo=connection.timezone)


def event_rows(order_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Every event of these orders, oldest first, as the fields the order's JSON shows."""
    ids = list(order_ids)
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    sql = (
        "SELECT order_id, kind, from_status, to_status, at, note, lat, lng"  # noqa: S608
        f" FROM {OrderEvent._meta.db_table} WHERE order_id IN ({marks(len(ids))})"
        " ORDER BY at, id"
    )
    for order_id, kind, from_status, to_status, at, note, lat, lng in fetch(sql, ids):
        out[order_id].append(
            {
                "kind": kind,
                "from_status": from_status,
                "to_status": to_status,
                "at": _aware(at),
                "note": note,
                "lat": lat,
                "lng": lng,
            }
        )
    return out


def store_for_merchant(merchant: Merchant, public_id: object) -> Store | None:
    """The merchant's store by public id, with its market (every new order reads both)."""
    stores, markets = Rows.of(Store), Rows.of(Market)
    sql = (
        f"SELECT {stores.columns('s')}, {markets.columns('m')}"  # noqa: S608
        f" FROM {Store._meta.db_table} s INNER JOIN {Market._meta.db_table} m ON m.id = s.market_id"
        " WHERE s.merchant_id = %s AND s.public_id = %s"
    )
    rows = fetch(sql, [merchant.id, prep(Store, "public_id", public_id)])
    if not rows:
        return None
    store = stores.instance(rows[0])
    store.market = markets.instance(rows[0], start=len(stores.fields))
    return store
