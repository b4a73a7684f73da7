"""Bugs the simulated day found in the services, pinned by small direct tests."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch import services
from dispatch.models import Offer, RateCard, Trip
from orders import services as order_services
from orders.models import Order
from payouts import services as payout_services
from payouts.models import Earning
from spark.lib import clock
from spark.lib.actors import Actor
from tests.dispatch.block_helpers import FakeClock
from tests.dispatch.conftest import STORE, online_driver
from tests.factories import MarketFactory, MerchantFactory, StoreFactory
from tests.orders.helpers import make_order

pytestmark = pytest.mark.django_db


def _offered(fake: FakeClock) -> tuple:
    """A market whose one ready order is offered to its one online driver."""
    market = MarketFactory()
    RateCard.objects.create(market=market, effective_from=fake.at - timedelta(days=1))
    store = StoreFactory(market=market, merchant=MerchantFactory(), lat=STORE[0], lng=STORE[1])
    driver = online_driver(market)
    order = make_order(store, Order.Status.READY_FOR_PICKUP)
    services.dispatch_round_run(market_id=market.id)
    return market, driver, order, Offer.objects.get(driver=driver, status=Offer.Status.OPEN)


def _cancel(order: Order) -> None:
    order_services.order_cancel(order_id=order.id, actor=Actor.system("shop"), reason="gone")


def test_a_round_expires_the_offer_of_an_order_the_shop_cancelled():
    """The round expires due offers before it drops cancelled orders from their trips; putting
    the expired trip's orders back to ready used to fail on the cancelled one, and with it every
    later round of the market (dispatch stalled)."""
    fake = FakeClock(timezone.now())
    with clock.use_clock(fake):
        market, _, order, offer = _offered(fake)
        _cancel(order)
        fake.advance(seconds=90)
        services.dispatch_round_run(market_id=market.id)
    offer.refresh_from_db()
    assert offer.status == Offer.Status.EXPIRED
    assert Trip.objects.get(id=offer.trip_id).status == Trip.Status.CANCELLED
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_a_driver_may_decline_the_offer_of_an_order_the_shop_cancelled():
    fake = FakeClock(timezone.now())
    with clock.use_clock(fake):
        market, driver, order, offer = _offered(fake)
        _cancel(order)
        fake.advance(seconds=10)
        services.offer_decline(
            offer_public_id=offer.public_id, driver_id=driver.id, actor=Actor.system("test")
        )
        services.dispatch_round_run(market_id=market.id)
    assert Trip.objects.get(id=offer.trip_id).status == Trip.Status.CANCELLED


def test_a_trip_cancelled_after_acceptance_is_paid_one_cancellation_line():
    """The cancelled trip has several events in the sweep's window (offered, assigned,
    cancelled); the window's conditions used to join the events a second time, so the trip came
    out once per event and the insert broke the one-line-per-trip index (IntegrityError)."""
    fake = FakeClock(timezone.now())
    with clock.use_clock(fake):
        market, driver, order, offer = _offered(fake)
        fake.advance(seconds=20)
        services.offer_accept(
            offer_public_id=offer.public_id, driver_id=driver.id, actor=Actor.system("test")
        )
        services.trips_sync_assigned(trip_id=offer.trip_id)
        fake.advance(minutes=3)
        _cancel(order)
        services.trips_drop_cancelled_orders(market_id=market.id)
        assert Trip.objects.get(id=offer.trip_id).status == Trip.Status.CANCELLED
        fake.advance(minutes=1)
        payout_services.earnings_post(since=fake.at - timedelta(hours=1), wait=True)
    lines = Earning.objects.filter(trip_id=offer.trip_id)
    assert [(e.kind, e.cancel_stage) for e in lines] == [("cancellation", "assigned")]
    assert (
        lines[0].cancellation_cents == RateCard.objects.get(market=market).cancel_after_accept_cents
    )
