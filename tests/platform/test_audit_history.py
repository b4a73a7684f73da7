"""A10: every change to Order, Offer and Payout, QuerySet.update() and bulk writes included,
leaves a history row (pghistory triggers) carrying who did it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services as dispatch_services
from dispatch import tasks as dispatch_tasks
from dispatch.models import Offer, RateCard
from orders.models import Order
from payouts import services as payout_services
from payouts.models import Payout
from payouts.periods import week_containing
from spark.lib import audit
from spark.lib.actors import Actor
from spark.lib.audit import audit_context
from tests.drivers.factories import approved_driver
from tests.factories import MarketFactory, MerchantFactory, StoreFactory
from tests.orders.helpers import make_order, order_payload
from tests.payouts import factories as payout_factories

pytestmark = pytest.mark.django_db
STORE = (36.1627, -86.7816)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def dispatch_city(db):
    market = MarketFactory()
    RateCard.objects.create(market=market, effective_from=timezone.now() - timedelta(days=1))
    store = StoreFactory(market=market, merchant=MerchantFactory(), lat=STORE[0], lng=STORE[1])
    driver = approved_driver(home_market=market)
    dispatch_services.driver_go_online(driver_id=driver.id, lat=STORE[0] + 0.01, lng=STORE[1])
    return market, store, driver


def offered(dispatch_city) -> Offer:
    market, store, driver = dispatch_city
    make_order(store, Order.Status.READY_FOR_PICKUP)
    dispatch_services.dispatch_round_run(market_id=market.id)
    return Offer.objects.get(driver=driver)


def test_order_created_and_changed_through_the_api_is_recorded_with_the_merchant(api, store):
    created = api.post("/api/v1/orders", order_payload(store), format="json")
    assert created.status_code == 201, created.content
    order = Order.objects.get(public_id=created.json()["id"])
    assert api.post(f"/api/v1/orders/{order.public_id}/ready").status_code == 200

    history = list(order.history.order_by("pgh_id"))
    assert [(h.pgh_label, h.status) for h in history] == [
        ("insert", "created"),
        ("update", "ready_for_pickup"),
    ]
    insert, update = history
    assert insert.pgh_context["actor"] == f"merchant:{store.merchant.slug}"
    assert insert.pgh_context["url"] == "/api/v1/orders"
    assert insert.pgh_context["method"] == "POST"
    assert update.pgh_context["url"] == f"/api/v1/orders/{order.public_id}/ready"
    assert update.pgh_context_id != insert.pgh_context_id  # one context per request


def test_raw_queryset_update_is_recorded_with_the_actor_of_the_context(store):
    first, second = make_order(store), make_order(store)
    ops = Actor(label="ops:night-shift", user_id=7)
    with audit_context(ops, reason="address fix"):
        updated = Order.objects.filter(id__in=[first.id, second.id]).update(
            dropoff_instructions="Ring twice"
        )
    assert updated == 2
    for order in (first, second):
        latest = order.history.latest("pgh_id")
        assert latest.pgh_label == "update"
        assert latest.dropoff_instructions == "Ring twice"
        assert latest.pgh_context == {
            "actor": "ops:night-shift",
            "user_id": 7,
            "reason": "address fix",
        }


def test_a_write_outside_any_context_still_leaves_a_history_row(store):
    order = make_order(store)
    before = order.history.count()
    Order.objects.filter(id=order.id).update(cancel_reason="raw write from a shell")
    latest = order.history.latest("pgh_id")
    assert order.history.count() == before + 1
    assert latest.cancel_reason == "raw write from a shell"
    assert latest.pgh_context is None


def test_courier_telemetry_alone_adds_no_history_row(store):
    order = make_order(store)
    before = order.history.count()
    Order.objects.filter(id=order.id).update(
        courier_lat=36.1, courier_lng=-86.7, courier_located_at=timezone.now()
    )
    assert order.history.count() == before


def test_offer_accepted_through_the_driver_api_is_recorded_with_the_driver(dispatch_city):
    offer = offered(dispatch_city)
    driver = dispatch_city[2]
    client = APIClient()
    client.force_authenticate(driver.user)
    response = client.post(f"/api/v1/driver/offers/{offer.public_id}/accept")
    assert response.status_code == 200, response.content

    labels = list(offer.history.order_by("pgh_id").values_list("pgh_label", "status"))
    assert labels == [("insert", "open"), ("update", "accepted")]
    accepted = offer.history.latest("pgh_id")
    assert accepted.pgh_context["actor"] == f"user:{driver.user.get_username()}"
    assert accepted.pgh_context["user_id"] == driver.user.id
    assert accepted.pgh_context["url"] == f"/api/v1/driver/offers/{offer.public_id}/accept"


def test_a_celery_task_names_itself_as_the_actor(dispatch_city):
    offer = offered(dispatch_city)
    Offer.objects.filter(id=offer.id).update(expires_at=timezone.now() - timedelta(seconds=1))

    dispatch_tasks.offers_expire_due.delay()

    expired = offer.history.latest("pgh_id")
    assert expired.status == "expired"
    assert expired.pgh_context["actor"] == "system:dispatch.tasks.offers_expire_due"
    assert expired.pgh_context["task"] == "dispatch.tasks.offers_expire_due"


def test_payouts_from_settlement_and_a_bulk_update_are_recorded(db):
    market = MarketFactory(timezone="America/Chicago")
    payout_factories.rate_card(market)
    store = StoreFactory(market=market, merchant=MerchantFactory())
    week = week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)
    drivers = [payout_factories.driver(market) for _ in range(2)]
    for d in drivers:
        payout_factories.completed_trip(
            driver=d, store=store, completed_at=week.starts_at + timedelta(days=1)
        )
    with audit_context(Actor.system("weekly-settlement")):
        payout_services.payout_batch_settle(market_id=market.id, period_start=week.start)

    payouts = list(Payout.objects.filter(driver__in=drivers))
    assert len(payouts) == 2
    for payout in payouts:
        rows = list(payout.history.order_by("pgh_id"))
        assert rows[0].pgh_label == "insert"
        assert [r.status for r in rows][-1] == "paid"
        assert {r.pgh_context["actor"] for r in rows} == {"system:weekly-settlement"}

    with audit_context(Actor.system("ops-correction")):
        Payout.objects.filter(driver__in=drivers).update(failure_reason="checked by ops")
    for payout in payouts:
        latest = payout.history.latest("pgh_id")
        assert latest.failure_reason == "checked by ops"
        assert latest.pgh_context["actor"] == "system:ops-correction"


def test_without_postgresql_no_context_is_opened(store, monkeypatch):
    """The embedded SQLite mode has no triggers; pghistory's SQL prefix must not be sent."""
    monkeypatch.setattr(audit, "tracking", lambda: False)
    order = make_order(store)
    with audit_context(Actor.system("embedded")):
        Order.objects.filter(id=order.id).update(cancel_reason="embedded write")
    assert order.history.latest("pgh_id").pgh_context is None
