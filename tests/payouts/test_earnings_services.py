"""The earnings sweep: the offer is the promise, plus what happened after; once per event."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import services as order_services
from payouts import selectors, services
from payouts.models import Earning, JournalEntry, JournalTransaction
from spark.lib.actors import Actor
from tests.payouts import factories

pytestmark = pytest.mark.django_db


def _lines(trip):
    return Earning.objects.get(trip=trip, seq=0)


def test_completed_trip_pays_exactly_the_offer_lines_and_the_tips(city):
    market, store, _ = city
    driver = factories.driver(market)
    trip = factories.completed_trip(
        driver=driver,
        store=store,
        tips=(300, 200),
        base=400,
        distance=350,
        time=120,
        extra=200,
        boost=150,
    )
    assert services.earnings_post() == 1
    e = _lines(trip)
    assert (e.base_cents, e.distance_cents, e.time_cents, e.extra_stops_cents, e.boost_cents) == (
        400,
        350,
        120,
        200,
        150,
    )
    assert e.tip_cents == 500
    assert e.promised_tip_cents == 500
    assert e.pay_cents == e.promised_pay_cents == 1220
    assert selectors.balance_for_driver(driver_id=driver.id, currency="USD") == 1720


def test_sweep_is_idempotent(city):
    market, store, _ = city
    driver = factories.driver(market)
    factories.completed_trip(driver=driver, store=store)
    services.earnings_post()
    rows = (Earning.objects.count(), JournalEntry.objects.count())
    assert services.earnings_post() == 0
    assert services.earnings_post(since=timezone.now() - timedelta(days=30)) == 0
    assert (Earning.objects.count(), JournalEntry.objects.count()) == rows


def test_one_journal_transaction_per_run_balances_every_driver(city):
    market, store, _ = city
    drivers = [factories.driver(market) for _ in range(3)]
    for d in drivers:
        factories.completed_trip(driver=d, store=store)
        factories.completed_trip(driver=d, store=store, tips=(0,))
    assert services.earnings_post() == 6
    txn = JournalTransaction.objects.get(kind="earnings")
    entries = list(txn.entries.values_list("amount_cents", flat=True))
    assert sum(entries) == 0
    assert len(entries) == 3 + 2  # a payable per driver, expense, tips payable
    for d in drivers:
        assert selectors.balance_for_driver(driver_id=d.id, currency="USD") == 850 * 2 + 300


def test_wait_at_the_store_is_paid_beyond_the_free_minutes(city):
    market, store, card = city  # 10 free minutes, then 15 cents a minute
    driver = factories.driver(market)
    short = factories.completed_trip(driver=driver, store=store, wait_minutes=9)
    long = factories.completed_trip(driver=driver, store=store, wait_minutes=24)
    services.earnings_post()
    assert _lines(short).wait_cents == 0
    assert _lines(long).wait_cents == 14 * card.wait_pay_per_minute_cents
    assert _lines(long).wait_minutes == 24


def test_returned_orders_pay_the_return_and_their_tips_go_back(city):
    market, store, card = city
    driver = factories.driver(market)
    trip = factories.completed_trip(driver=driver, store=store, tips=(300,), returned=2)
    services.earnings_post()
    e = _lines(trip)
    assert e.return_cents == 2 * card.return_to_store_cents
    assert e.returned_stops == 2
    assert e.tip_cents == 300


@pytest.mark.parametrize(
    ("stage", "field"),
    [
        ("assigned", "cancel_after_accept_cents"),
        ("at_store", "cancel_at_store_cents"),
        ("in_progress", "cancel_at_door_cents"),
    ],
)
def test_cancellation_pays_the_card_amount_of_its_stage(city, stage, field):
    market, store, card = city
    driver = factories.driver(market)
    trip = factories.cancelled_trip(driver=driver, store=store, stage=stage)
    services.earnings_post()
    e = _lines(trip)
    assert e.kind == "cancellation"
    assert e.cancel_stage == stage
    assert e.cancellation_cents == getattr(card, field)
    assert e.tip_cents == 0
    assert e.promised_tip_cents == 250


def test_cancellation_at_store_adds_wait_pay(city):
    market, store, card = city
    driver = factories.driver(market)
    trip = factories.cancelled_trip(driver=driver, store=store, stage="at_store", waited_minutes=20)
    services.earnings_post()
    assert _lines(trip).wait_cents == 10 * card.wait_pay_per_minute_cents


def test_no_cancellation_pay_when_the_driver_cancelled(city):
    market, store, _ = city
    driver = factories.driver(market)
    factories.cancelled_trip(driver=driver, store=store, actor_label="driver:dana")
    assert services.earnings_post() == 0


def test_rate_card_in_force_at_offer_time_applies(city):
    market, store, old = city
    driver = factories.driver(market)
    factories.rate_card(
        market, effective_from=timezone.now() + timedelta(days=1), return_to_store_cents=999
    )
    trip = factories.completed_trip(driver=driver, store=store, returned=1)
    services.earnings_post()
    assert _lines(trip).return_cents == old.return_to_store_cents


def test_tip_raised_after_delivery_becomes_a_tip_change_line(city):
    market, store, _ = city
    driver = factories.driver(market)
    trip = factories.completed_trip(driver=driver, store=store, tips=(300,))
    services.earnings_post()
    order = trip.stops.get().order
    order_services.order_tip_raise(
        merchant=order.merchant,
        public_id=order.public_id,
        tip_cents=800,
        actor=Actor.system("shop"),
    )
    assert services.earnings_post() == 1
    change = Earning.objects.get(trip=trip, kind="tip_change")
    assert (change.seq, change.tip_cents, change.pay_cents) == (1, 500, 0)
    assert services.earnings_post() == 0
    assert selectors.balance_for_driver(driver_id=driver.id, currency="USD") == 850 + 800


def test_block_guarantee_tops_up_the_shortfall_once(city):
    market, store, _ = city
    driver = factories.driver(market)
    ended = timezone.now() - timedelta(hours=1)
    res = factories.block_reservation(
        driver=driver, market=market, ends_at=ended, guaranteed_cents=5000
    )
    factories.completed_trip(
        driver=driver,
        store=store,
        block_reservation=res,
        completed_at=ended - timedelta(minutes=30),
    )
    services.earnings_post()
    top = Earning.objects.get(kind="block_guarantee")
    assert top.guarantee_cents == 5000 - 850
    assert services.earnings_post() == 0


def test_block_guarantee_waits_while_a_trip_is_under_way(city):
    from dispatch.models import Trip

    market, store, _ = city
    driver = factories.driver(market)
    res = factories.block_reservation(
        driver=driver,
        market=market,
        ends_at=timezone.now() - timedelta(minutes=5),
        guaranteed_cents=5000,
    )
    trip = Trip.objects.create(
        market=market, store=store, status="in_progress", driver=driver, block_reservation=res
    )
    services.earnings_post()
    assert not Earning.objects.filter(kind="block_guarantee").exists()
    assert trip.id


def test_no_block_top_up_when_the_trips_paid_more(city):
    market, store, _ = city
    driver = factories.driver(market)
    ended = timezone.now() - timedelta(hours=1)
    res = factories.block_reservation(
        driver=driver, market=market, ends_at=ended, guaranteed_cents=500
    )
    factories.completed_trip(
        driver=driver,
        store=store,
        block_reservation=res,
        completed_at=ended - timedelta(minutes=30),
    )
    services.earnings_post()
    assert not Earning.objects.filter(kind="block_guarantee").exists()
