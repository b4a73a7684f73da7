"""The orders app's only public read API."""

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from orders.models import (
    Market,
    Merchant,
    Order,
    OrderEvent,
    Store,
    StoreMembership,
    WebhookDelivery,
    WebhookEndpoint,
)
from spark.lib import sql as lib_sql
from spark.lib.db import one_or_none
from spark.lib.errors import NotFound


def _with_events(qs: QuerySet[Order]) -> QuerySet[Order]:
    return qs.select_related("store").prefetch_related(
        Prefetch("events", queryset=OrderEvent.objects.order_by("at", "id"))
    )


def order_get_for_merchant(*, merchant: Merchant, public_id: object) -> Order:
    """Another merchant's order is 404 (never 403): its existence is not disclosed."""
    order = one_or_none(_with_events(Order.objects.filter(merchant=merchant, public_id=public_id)))
    if order is None:
        raise NotFound("No such order.")
    return order


def order_list_for_merchant(
    *,
    merchant: Merchant,
    status: list[str] | None = None,
    store_public_id: object | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> QuerySet[Order]:
    qs = Order.objects.filter(merchant=merchant)
    if status:
        qs = qs.filter(status__in=status)
    if store_public_id:
        qs = qs.filter(store__public_id=store_public_id)
    if created_from:
        qs = qs.filter(created_at__gte=created_from)
    if created_to:
        qs = qs.filter(created_at__lt=created_to)
    return _with_events(qs)


def order_get(*, order_id: int) -> Order:
    return Order.objects.select_related("store__market", "merchant").get(id=order_id)


def order_get_by_tracking_token(*, token: str) -> Order | None:
    return one_or_none(
        _with_events(Order.objects.filter(tracking_token=token).select_related("store__market"))
    )


def order_list_by_ids(*, ids: list[int]) -> QuerySet[Order]:
    return Order.objects.filter(id__in=ids).select_related("store__market")


# The few reads below run at every step of every trip (a city day: tens of thousands): plain
# SQL of a few columns, as orders/services/sql.py writes the lifecycle's statements.


def _by_id(column: str, ids: Iterable[int]) -> dict[int, Any]:
    ids = list(ids)
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    table = Order._meta.db_table
    return dict(lib_sql.fetch(f"SELECT id, {column} FROM {table} WHERE id IN ({marks})", ids))  # noqa: S608


def order_statuses(*, ids: Iterable[int]) -> dict[int, str]:
    """{order id: status} (one light query; dispatch checks where a trip's orders are)."""
    return _by_id("status", ids)


@dataclass(frozen=True)
class DispatchOrder:
    """What a dispatch round reads of an order to batch, price and offer it, with its store's
    position and name. Rounds read every waiting order every minute: a third of an order's
    columns, read as plain rows (no model instances)."""

    id: int
    public_id: uuid.UUID
    store_id: int
    store_lat: float
    store_lng: float
    store_name: str
    dropoff_address: str
    dropoff_lat: float
    dropoff_lng: float
    items: list
    tip_cents: int
    contains_alcohol: bool
    pickup_ready_at: datetime
    dropoff_window_start: datetime
    dropoff_window_end: datetime
    status: str


_DISPATCH_COLUMNS = (
    "o.id, o.public_id, o.store_id, s.lat, s.lng, s.name, o.dropoff_address, o.dropoff_lat,"
    " o.dropoff_lng, o.items, o.tip_cents, o.contains_alcohol, o.pickup_ready_at,"
    " o.dropoff_window_start, o.dropoff_window_end, o.status"
)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes (Django's converter makes them aware; so do we).
    return value if value.tzinfo is not None else value.replace(tzinfo=connection.timezone)


def _dispatch_orders(where: str, params: list[object]) -> list[DispatchOrder]:
    sql = (
        f"SELECT {_DISPATCH_COLUMNS} FROM {Order._meta.db_table} o"  # noqa: S608
        f" INNER JOIN {Store._meta.db_table} s ON s.id = o.store_id WHERE {where} ORDER BY o.id"
    )
    out = []
    for row in lib_sql.fetch(sql, params):
        (id_, public_id, store_id, lat, lng, name, address, d_lat, d_lng, items) = row[:10]
        tip_cents, alcohol, ready_at, window_start, window_end, status = row[10:]
        out.append(
            DispatchOrder(
                id=id_,
                public_id=lib_sql.as_uuid(public_id),
                store_id=store_id,
                store_lat=lat,
                store_lng=lng,
                store_name=name,
                dropoff_address=address,
                dropoff_lat=d_lat,
                dropoff_lng=d_lng,
                items=json.loads(items) if isinstance(items, str | bytes) else items,
                tip_cents=tip_cents,
                contains_alcohol=bool(alcohol),
                pickup_ready_at=_aware(ready_at),
                dropoff_window_start=_aware(window_start),
                dropoff_window_end=_aware(window_end),
                status=status,
            )
        )
    return out


def order_list_for_round(
    *, market_id: int, until: datetime
) -> tuple[list[DispatchOrder], list[DispatchOrder]]:
    """What a dispatch round reads of a market's orders, each list in id order: the ready
    orders, and those still being packed that will be ready by `until` (dispatch never offers
    these; it may hold a ready order back for a round or two to batch it with one). One read."""
    lit = lib_sql.literal
    ready, created = lit(Order.Status.READY_FOR_PICKUP), lit(Order.Status.CREATED)
    until_db = Order._meta.get_field("pickup_ready_at").get_db_prep_value(until, connection)
    found = _dispatch_orders(
        f"s.market_id = %s AND (o.status = {ready}"
        f" OR (o.status = {created} AND o.pickup_ready_at <= %s))",
        [market_id, until_db],
    )
    return (
        [o for o in found if o.status == Order.Status.READY_FOR_PICKUP],
        [o for o in found if o.status == Order.Status.CREATED],
    )


def order_list_for_dispatch(*, ids: list[int]) -> list[DispatchOrder]:
    """Orders by id, as a round reads them (DispatchOrder), in id order."""
    if not ids:
        return []
    return _dispatch_orders(*lib_sql.any_of("o.id", ids))


def store_list_for_merchant(*, merchant: Merchant) -> QuerySet[Store]:
    return Store.objects.filter(merchant=merchant).select_related("market").order_by("id")


def store_list_for_user(*, user_id: int) -> QuerySet[Store]:
    return Store.objects.filter(memberships__user_id=user_id).select_related("market")


def store_membership_exists(*, user_id: int, store_id: int) -> bool:
    return StoreMembership.objects.filter(user_id=user_id, store_id=store_id).exists()


def market_list(*, active_only: bool = True) -> QuerySet[Market]:
    qs = Market.objects.all().order_by("name")
    return qs.filter(is_active=True) if active_only else qs


def market_get(*, market_id: int) -> Market:
    """The market (every dispatch round reads it: plain SQL through the model's converters)."""
    rows = lib_sql.Rows.of(Market)
    found = lib_sql.fetch(
        f"SELECT {rows.columns('m')} FROM {Market._meta.db_table} m WHERE m.id = %s",  # noqa: S608
        [market_id],
    )
    if not found:
        raise Market.DoesNotExist(f"Market {market_id} does not exist.")
    return rows.instance(found[0])


def market_average_speed_kmh(*, market_id: int) -> float:
    """The market's ETA speed alone (a courier's pickup ETA needs nothing else)."""
    table = Market._meta.db_table
    rows = lib_sql.fetch(f"SELECT average_speed_kmh FROM {table} WHERE id = %s", [market_id])  # noqa: S608
    if not rows:
        raise NotFound("No such market.")
    return rows[0][0]


def webhook_endpoint_list(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant=merchant).order_by("id")


def webhook_delivery_list_dead() -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DEAD).select_related(
        "event", "endpoint"
    )


# --- store board ---


def _first_ready_at() -> Subquery:
    return Subquery(
        OrderEvent.objects.filter(order=OuterRef("pk"), to_status=Order.Status.READY_FOR_PICKUP)
        .order_by("at")
        .values("at")[:1]
    )


def order_list_for_store_board(*, store_id: int, since: datetime) -> QuerySet[Order]:
    """The store's orders of the day (created since `since`) plus any older one still open,
    with `ready_at` (the first time it was packed) for the "waiting too long" flag."""
    return (
        Order.objects.filter(store_id=store_id)
        .filter(Q(created_at__gte=since) | ~Q(status__in=Order.FINAL))
        .annotate(ready_at=_first_ready_at())
        .order_by("created_at", "id")
    )


def order_get_for_store(*, store_id: int, public_id: object) -> Order:
    """An order of this store, with its events; another store's order is 404 (BOLA)."""
    order = one_or_none(_with_events(Order.objects.filter(store_id=store_id, public_id=public_id)))
    if order is None:
        raise NotFound("No such order.")
    return order


def order_list_for_store_between(
    *, store_id: int, start: datetime, end: datetime, statuses: Iterable[str]
) -> QuerySet[Order]:
    """Orders of a store whose status changed in [start, end), for proof-of-delivery exports."""
    return Order.objects.filter(
        store_id=store_id,
        status__in=list(statuses),
        status_changed_at__gte=start,
        status_changed_at__lt=end,
    ).order_by("status_changed_at", "id")


def store_get_for_user(*, user_id: int, public_id: object) -> Store:
    """A store the user is a member of; any other store is 404."""
    store = one_or_none(store_list_for_user(user_id=user_id).filter(public_id=public_id))
    if store is None:
        raise NotFound("No such store.")
    return store


def store_list_for_market(*, market_id: int) -> QuerySet[Store]:
    return Store.objects.filter(market_id=market_id, is_active=True).order_by("name")


def order_list_open_for_market(*, market_id: int) -> QuerySet[Order]:
    return (
        Order.objects.filter(store__market_id=market_id)
        .exclude(status__in=Order.FINAL)
        .select_related("store")
        .order_by("created_at", "id")
    )


def order_event_rows_for_market(
    *, market_id: int, since: datetime
) -> list[tuple[int, str, datetime, datetime]]:
    """(order_id, to_status, at, dropoff_window_end) of every status change of the orders that
    were alive since `since` (the ops console's charts of the day), oldest first."""
    orders = Order.objects.filter(store__market_id=market_id).filter(
        Q(created_at__gte=since) | Q(status_changed_at__gte=since) | ~Q(status__in=Order.FINAL)
    )
    return list(
        OrderEvent.objects.filter(order__in=orders, kind="status_changed")
        .order_by("at", "id")
        .values_list("order_id", "to_status", "at", "order__dropoff_window_end")
    )


def order_search(*, query: str, limit: int = 20) -> QuerySet[Order]:
    """Ops' lookup: an order's public id (UUID) or the shop's external order id."""
    query = query.strip()
    qs = Order.objects.select_related("store__market", "merchant").order_by("-created_at")
    try:
        return qs.filter(public_id=uuid.UUID(query))[:limit]
    except ValueError:
        return qs.filter(external_order_id__iexact=query)[:limit]


def order_get_by_public_id(*, public_id: object) -> Order:
    order = one_or_none(
        _with_events(Order.objects.filter(public_id=public_id)).select_related(
            "store__market", "merchant"
        )
    )
    if order is None:
        raise NotFound("No such order.")
    return order


def market_get_by_slug(*, slug: str) -> Market:
    market = one_or_none(Market.objects.filter(slug=slug))
    if market is None:
        raise NotFound("No such market.")
    return market


def merchant_get_by_slug(*, slug: str) -> Merchant | None:
    return one_or_none(Merchant.objects.filter(slug=slug))
