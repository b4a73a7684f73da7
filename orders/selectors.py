"""The orders app's only public read API."""

import uuid
from collections.abc import Iterable
from datetime import datetime

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


def order_list_ready(*, market_id: int) -> QuerySet[Order]:
    """Ready orders of a market that wait for a driver (dispatch reads this each round)."""
    return Order.objects.filter(
        store__market_id=market_id, status=Order.Status.READY_FOR_PICKUP
    ).select_related("store")


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
    return Market.objects.get(id=market_id)


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
