"""The order lifecycle's hottest statements, written out in SQL (P11).

Every order moves about ten times between created and delivered, and each move locks the order,
updates it, appends its event, rereads its events for the webhook and writes the outbox row. The
ORM spends several times longer composing those statements, and instantiating 40-column rows,
than the database spends running them (a simulated city day: ~85 % of the CPU). These are the
same statements, written once with the helpers of spark.lib.sql (values prepared by their model
fields, columns read back through the fields' converters, as the ORM would).
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection

from orders.models import Market, Merchant, Order, OrderEvent, Store, WebhookEndpoint
from spark.lib.sql import Rows, any_of, fetch, literal, prep


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
        f" WHERE ep.merchant_id = o.merchant_id AND ep.is_active = {literal(True)})"
        f" FROM {Order._meta.db_table} o INNER JOIN {Store._meta.db_table} s ON s.id = o.store_id"
        f" WHERE {where} ORDER BY o.id{lock}"
    )
    orders = []
    for row in fetch(sql, params):
        order = rows.instance(row)
        # The raw column: a UUID on PostgreSQL, its hex on SQLite.
        order.store_public_id = str(uuid.UUID(str(row[-2])))
        order.has_webhooks = bool(row[-1])
        orders.append(order)
    return orders


# What a move reads of an order when it builds no webhook body: dispatch's churn (ready to
# offered), a round's hundreds of orders at a time.
LIGHT_FIELDS = ("id", "public_id", "merchant_id", "store_id", "status")


def lock_orders_light(ids: list[int]) -> list[Order]:
    """Orders by id, locked, in id order, with only LIGHT_FIELDS loaded (the others deferred,
    as QuerySet.only() would leave them)."""
    fields = [f for f in Order._meta.concrete_fields if f.attname in LIGHT_FIELDS]
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    quote = connection.ops.quote_name
    where, params = any_of("o.id", ids)
    sql = (
        f"SELECT {', '.join('o.' + quote(f.column) for f in fields)}"  # noqa: S608
        f" FROM {Order._meta.db_table} o WHERE {where} ORDER BY o.id{lock}"
    )
    public_id = Order._meta.get_field("public_id")
    at = fields.index(public_id)
    names = [f.attname for f in fields]
    orders = []
    for row in fetch(sql, params):
        values = list(row)
        values[at] = public_id.to_python(values[at])  # its hex on SQLite, a UUID on PostgreSQL
        orders.append(Order.from_db(connection.alias, names, values))
    return orders


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes (Django's converter makes them aware; so do we).
    return value if value.tzinfo is not None else value.replace(tzinfo=connection.timezone)


def event_rows(order_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Every event of these orders, oldest first, as the fields the order's JSON shows."""
    ids = list(order_ids)
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    where, params = any_of("order_id", ids)
    sql = (
        "SELECT order_id, kind, from_status, to_status, at, note, lat, lng"  # noqa: S608
        f" FROM {OrderEvent._meta.db_table} WHERE {where} ORDER BY at, id"
    )
    for order_id, kind, from_status, to_status, at, note, lat, lng in fetch(sql, params):
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
    """The merchant's store by public id, with its market (every new order reads both), and
    whether the merchant has an active endpoint (`has_webhooks`, as lock_orders reads it)."""
    stores, markets = Rows.of(Store), Rows.of(Market)
    sql = (
        f"SELECT {stores.columns('s')}, {markets.columns('m')}, EXISTS("  # noqa: S608
        f"SELECT 1 FROM {WebhookEndpoint._meta.db_table} ep"
        f" WHERE ep.merchant_id = s.merchant_id AND ep.is_active = {literal(True)})"
        f" FROM {Store._meta.db_table} s INNER JOIN {Market._meta.db_table} m ON m.id = s.market_id"
        " WHERE s.merchant_id = %s AND s.public_id = %s"
    )
    rows = fetch(sql, [merchant.id, prep(Store, "public_id", public_id)])
    if not rows:
        return None
    store = stores.instance(rows[0])
    store.market = markets.instance(rows[0], start=len(stores.fields))
    store.has_webhooks = bool(rows[0][-1])
    return store
