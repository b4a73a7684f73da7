"""A round holds a ready order back for an order of its store that is packed soon, and offers
the two together once both are ready."""

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from dispatch import services
from dispatch.models import Offer
from orders import services as order_services
from orders.models import Order
from spark.lib.actors import Actor
from tests.dispatch.conftest import online_driver
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db


def _open_offers():
    return list(Offer.objects.filter(status=Offer.Status.OPEN))


def test_round_holds_a_ready_order_for_an_order_of_its_store_packed_soon(city):
    market, store = city
    online_driver(market)
    start = timezone.now()
    first = make_order(store, Order.Status.READY_FOR_PICKUP, pickup_ready_at=start)
    soon = make_order(store, pickup_ready_at=start + timedelta(minutes=2))  # same drop-off

    held = services.dispatch_round_run(market_id=market.id)

    assert held.offers_made == 0
    assert held.held_order_ids == [first.id]  # the store board and ops read it
    first.refresh_from_db()
    assert first.status == Order.Status.READY_FOR_PICKUP
    with freeze_time(start + timedelta(minutes=2, seconds=5)):
        order_services.order_transition(
            order_id=soon.id, to=Order.Status.READY_FOR_PICKUP, actor=Actor.system("test")
        )
        both = services.dispatch_round_run(market_id=market.id)
    assert both.offers_made == 1
    assert both.held_order_ids == []
    (offer,) = _open_offers()
    assert sorted(s["order_id"] for s in offer.stops) == sorted(
        [str(first.public_id), str(soon.public_id)]
    )


def test_round_offers_at_once_when_nothing_of_its_store_is_packed_soon(city):
    market, store = city
    online_driver(market)
    start = timezone.now()
    make_order(store, Order.Status.READY_FOR_PICKUP, pickup_ready_at=start)
    make_order(store, pickup_ready_at=start + timedelta(hours=1))  # far beyond the horizon

    assert services.dispatch_round_run(market_id=market.id).offers_made == 1


def test_round_without_batching_never_holds(city):
    market, store = city
    online_driver(market)
    start = timezone.now()
    make_order(store, Order.Status.READY_FOR_PICKUP, pickup_ready_at=start)
    make_order(store, pickup_ready_at=start + timedelta(minutes=2))

    assert services.dispatch_round_run(market_id=market.id, batching=False).offers_made == 1
