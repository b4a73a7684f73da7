"""Tips: 100 % to the driver; the shop raises them; a decrease needs an ops review with a reason
(approved by someone else), is shown to the driver, and every change is a ledger entry."""

import pytest

from orders import services as order_services
from orders.models import OrderEvent
from payouts import selectors, services
from payouts.models import Earning, JournalEntry, TipReview
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, InvalidTransition, Unprocessable
from tests.factories import UserFactory
from tests.payouts import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_trip(city):
    market, store, _ = city
    driver = factories.driver(market)
    trip = factories.completed_trip(driver=driver, store=store, tips=(500,))
    services.earnings_post()
    return driver, trip, trip.stops.get().order


@pytest.fixture
def ops():
    return Actor.user(UserFactory(), "ops"), Actor.user(UserFactory(), "ops")


def test_tips_pass_through_in_full(paid_trip):
    driver, trip, _ = paid_trip
    line = Earning.objects.get(trip=trip)
    assert line.tip_cents == 500
    tips_entry = JournalEntry.objects.get(account__kind="tips_payable")
    assert tips_entry.amount_cents == 500  # the tips payable is debited exactly the tip


def test_decrease_needs_a_reason_and_a_lower_tip(paid_trip, ops):
    _, _, order = paid_trip
    requester, _ = ops
    with pytest.raises(Unprocessable):
        services.tip_review_request(order_id=order.id, tip_cents=200, reason="", actor=requester)
    with pytest.raises(Unprocessable):
        services.tip_review_request(order_id=order.id, tip_cents=600, reason="x", actor=requester)


def test_approved_decrease_lowers_the_tip_posts_the_difference_and_is_shown(paid_trip, ops):
    driver, trip, order = paid_trip
    requester, reviewer = ops
    review = services.tip_review_request(
        order_id=order.id, tip_cents=200, reason="Customer disputed the tip", actor=requester
    )
    assert review.driver_id == driver.id
    assert review.trip_id == trip.id
    services.tip_review_decide(
        review_id=review.id, approve=True, note="Card issuer", actor=reviewer
    )
    order.refresh_from_db()
    assert order.tip_cents == 200
    event = OrderEvent.objects.filter(order=order, kind="tip_changed").latest("id")
    assert "Customer disputed the tip" in event.note
    change = Earning.objects.get(trip=trip, kind="tip_change")
    assert change.tip_cents == -300
    assert "Customer disputed the tip" in change.note
    assert selectors.balance_for_driver(driver_id=driver.id, currency="USD") == 850 + 200
    shown = selectors.trip_breakdown_for_driver(driver_id=driver.id, trip_public_id=trip.public_id)
    assert [r.id for r in shown.reviews] == [review.id]
    tip_line = [line for line in shown.row.lines if line.label == "Tip"][0]
    assert (tip_line.promised_cents, tip_line.paid_cents) == (500, 200)
    assert "Customer disputed the tip" in tip_line.explanation
    assert services.earnings_post() == 0  # the sweep sees nothing left to post


def test_the_requester_cannot_approve(paid_trip, ops):
    _, _, order = paid_trip
    requester, _ = ops
    review = services.tip_review_request(
        order_id=order.id, tip_cents=200, reason="why", actor=requester
    )
    with pytest.raises(Conflict):
        services.tip_review_decide(review_id=review.id, approve=True, note="ok", actor=requester)


def test_rejected_review_keeps_the_tip(paid_trip, ops):
    driver, _, order = paid_trip
    requester, reviewer = ops
    review = services.tip_review_request(
        order_id=order.id, tip_cents=200, reason="why", actor=requester
    )
    services.tip_review_decide(review_id=review.id, approve=False, note="No proof", actor=reviewer)
    order.refresh_from_db()
    assert order.tip_cents == 500
    assert TipReview.objects.get().status == "rejected"
    with pytest.raises(InvalidTransition):
        services.tip_review_decide(review_id=review.id, approve=True, note="x", actor=reviewer)


def test_one_pending_review_per_order_and_stale_reviews_are_refused(paid_trip, ops):
    _, _, order = paid_trip
    requester, reviewer = ops
    review = services.tip_review_request(
        order_id=order.id, tip_cents=200, reason="why", actor=requester
    )
    with pytest.raises(Conflict):
        services.tip_review_request(order_id=order.id, tip_cents=100, reason="x", actor=requester)
    order_services.order_tip_raise(
        merchant=order.merchant, public_id=order.public_id, tip_cents=700, actor=Actor.system("s")
    )
    with pytest.raises(Conflict):
        services.tip_review_decide(review_id=review.id, approve=True, note="ok", actor=reviewer)


def test_every_tip_change_is_a_ledger_entry(paid_trip, ops):
    driver, trip, order = paid_trip
    requester, reviewer = ops
    order_services.order_tip_raise(
        merchant=order.merchant, public_id=order.public_id, tip_cents=900, actor=Actor.system("s")
    )
    services.earnings_post()
    review = services.tip_review_request(
        order_id=order.id, tip_cents=400, reason="Partial refund", actor=requester
    )
    services.tip_review_decide(review_id=review.id, approve=True, note="ok", actor=reviewer)
    tips = JournalEntry.objects.filter(account__kind="tips_payable").order_by("id")
    assert list(tips.values_list("amount_cents", flat=True)) == [500, 400, -500]
    changes = Earning.objects.filter(trip=trip, kind="tip_change").order_by("seq")
    assert [(c.seq, c.tip_cents) for c in changes] == [(1, 400), (2, -500)]


def test_decrease_before_the_trip_is_paid_has_no_ledger_entry_until_delivery(city, ops):
    market, store, _ = city
    order = factories.OrderFactory(store=store, tip_cents=500, status="ready_for_pickup")
    requester, reviewer = ops
    review = services.tip_review_request(
        order_id=order.id, tip_cents=0, reason="x", actor=requester
    )
    services.tip_review_decide(review_id=review.id, approve=True, note="ok", actor=reviewer)
    order.refresh_from_db()
    assert order.tip_cents == 0
    assert not Earning.objects.exists()
