"""The orders app's only public read API."""

from datetime import datetime

from django.db.models import Prefetch, QuerySet

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
