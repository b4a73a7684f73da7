"""Tips go to the driver in full. The shop may raise a tip at any time (orders API; the earnings
sweep posts the difference); lowering one needs an ops review with a reason the driver sees,
and a second person to approve it. Every change the driver was paid on is a ledger entry."""

from django.db import IntegrityError, transaction

from dispatch import selectors as dispatch_selectors
from orders import selectors as order_selectors
from orders import services as order_services
from payouts.models import PayoutEvent, TipReview
from payouts.services import earnings
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.db import one_or_none
from spark.lib.errors import Conflict, InvalidTransition, NotFound, Unprocessable


@transaction.atomic
def tip_review_request(*, order_id: int, tip_cents: int, reason: str, actor: Actor) -> TipReview:
    """Ask to lower an order's tip (a shop's support request, a chargeback...)."""
    if not reason.strip():
        raise Unprocessable("A reason is required.", code="reason_required")
    order = order_selectors.order_get(order_id=order_id)
    if not 0 <= tip_cents < order.tip_cents:
        raise Unprocessable(
            f"The new tip must be lower than the current {order.tip_cents} cents.",
            code="tip_not_lower",
        )
    trip = dispatch_selectors.trip_for_order(order_id=order_id)
    try:
        with transaction.atomic():
            review = TipReview.objects.create(
                order_id=order_id,
                trip_id=trip.id if trip else None,
                driver_id=trip.driver_id if trip else None,
                currency=order.currency,
                from_tip_cents=order.tip_cents,
                to_tip_cents=tip_cents,
                reason=reason.strip(),
                requested_by_label=actor.label,
                requested_by_id=actor.user_id,
                requested_at=clock.now(),
            )
    except IntegrityError as exc:
        raise Conflict("This order's tip is already under review.", code="review_pending") from exc
    _event(review, "", TipReview.Status.PENDING, actor, reason.strip())
    return review


@transaction.atomic
def tip_review_decide(*, review_id: int, approve: bool, note: str, actor: Actor) -> TipReview:
    """Approve (the tip goes down, the driver's pay with it) or reject, with a note."""
    if not note.strip():
        raise Unprocessable("A note is required.", code="reason_required")
    review = one_or_none(TipReview.objects.select_for_update().filter(id=review_id))
    if review is None:
        raise NotFound("No such tip review.")
    to = TipReview.Status.APPROVED if approve else TipReview.Status.REJECTED
    if to not in TipReview.TRANSITIONS[review.status]:
        raise InvalidTransition(f"This review is {review.status}.", current_status=review.status)
    if approve:
        _apply(review, actor)
    review.status, review.decided_at = to, clock.now()
    review.decided_by_id, review.decision_note = actor.user_id, note.strip()
    review.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    _event(review, TipReview.Status.PENDING, to, actor, note.strip())
    return review


def _apply(review: TipReview, actor: Actor) -> None:
    if actor.user_id is not None and actor.user_id == review.requested_by_id:
        raise Conflict("Someone other than the requester approves.", code="four_eyes")
    order = order_selectors.order_get(order_id=review.order_id)
    if order.tip_cents != review.from_tip_cents:
        raise Conflict(
            "The tip changed since this review was asked for; ask again.", code="tip_changed"
        )
    order_services.order_tip_set_after_review(
        order_id=review.order_id, tip_cents=review.to_tip_cents, actor=actor, reason=review.reason
    )
    if review.trip_id is not None:
        # Already paid on this trip: post the difference now, with the reason on the line.
        earnings.tip_changes_post(
            trip_ids=[review.trip_id],
            note=f"Tip lowered after review: {review.reason}",
            actor=actor,
        )


def _event(review: TipReview, frm: str, to: str, actor: Actor, note: str) -> None:
    PayoutEvent.objects.create(
        entity=PayoutEvent.Entity.TIP_REVIEW,
        entity_id=review.id,
        from_status=frm,
        to_status=to,
        actor_label=actor.label,
        actor_id=actor.user_id,
        at=clock.now(),
        note=note,
    )
