"""Offers: accept (exactly one winner), decline, expire, withdraw.

Accepting is two conditional UPDATEs in one transaction: the trip must still be waiting for a
driver, and the offer must still be open and unexpired. Whatever the concurrency, one
driver wins a trip (C1): a second accept finds the offer or the trip already changed and gets
409. The partial unique indexes (one accepted offer per trip, one active trip per driver) are
the database's backstop.
"""

import logging

from django.db import IntegrityError, transaction
from django.db.models import Subquery

from dispatch import tasks
from dispatch.models import BlockReservation, DispatchEvent, Offer, Trip
from dispatch.selectors import rate_card_for
from dispatch.services import pricing, trips
from dispatch.services.events import dispatch_event
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.db import one_or_none
from spark.lib.errors import Conflict, NotFound

logger = logging.getLogger(__name__)


class OfferNotAvailable(Conflict):
    code = "offer_not_available"


class OfferExpired(Conflict):
    code = "offer_expired"


class DriverBusy(Conflict):
    code = "driver_busy"


def _offer_events(offers: list[Offer], *, to: str, actor: Actor, note: str = "") -> None:
    now = clock.now()
    DispatchEvent.objects.bulk_create(
        [
            dispatch_event(
                entity=DispatchEvent.Entity.OFFER,
                entity_id=o.id,
                trip_id=o.trip_id,
                from_status=Offer.Status.OPEN,
                to_status=to,
                actor=actor,
                at=now,
                note=note,
            )
            for o in offers
        ]
    )


def _why_not(offer_public_id: object, driver_id: int) -> Conflict:
    offer = one_or_none(Offer.objects.filter(public_id=offer_public_id, driver_id=driver_id))
    if offer is None:
        raise NotFound("No such offer.")
    if offer.status == Offer.Status.OPEN:
        return OfferExpired("This offer has expired.", extra={"status": "expired"})
    return OfferNotAvailable(
        f"This offer is no longer available ({offer.status}).", extra={"status": offer.status}
    )


def offer_accept(*, offer_public_id: object, driver_id: int, actor: Actor) -> Offer:
    try:
        return _offer_accept(offer_public_id=offer_public_id, driver_id=driver_id, actor=actor)
    except IntegrityError as exc:  # the partial unique indexes: already on a trip
        raise DriverBusy("Finish your current trip before taking another.") from exc


@transaction.atomic
def _offer_accept(*, offer_public_id: object, driver_id: int, actor: Actor) -> Offer:
    now = clock.now()
    offer = one_or_none(
        Offer.objects.select_related("trip__market").filter(
            public_id=offer_public_id, driver_id=driver_id
        )
    )
    if offer is None:
        raise NotFound("No such offer.")
    # The trip row first: every accept of this trip queues on it (no lock-order deadlock
    # between broadcast twins), and only the first finds it still offered.
    working_block = BlockReservation.objects.filter(
        driver_id=driver_id,
        status=BlockReservation.Status.RESERVED,
        block__starts_at__lte=now,
        block__ends_at__gt=now,
    ).values("id")[:1]
    taken = Trip.objects.filter(id=offer.trip_id, status=Trip.Status.OFFERED).update(
        status=Trip.Status.ASSIGNED,
        driver_id=driver_id,
        assigned_at=now,
        status_changed_at=now,
        updated_at=now,
        # Trips taken during a reserved block count towards its guarantee (payouts).
        block_reservation_id=Subquery(working_block),
    )
    if taken != 1:
        raise OfferNotAvailable(
            "Another driver took this trip, or it was withdrawn.", extra={"status": "taken"}
        )
    won = Offer.objects.filter(id=offer.id, status=Offer.Status.OPEN, expires_at__gt=now).update(
        status=Offer.Status.ACCEPTED, responded_at=now, updated_at=now
    )
    if won != 1:  # expired or answered: the trip update rolls back with us
        raise _why_not(offer_public_id, driver_id)
    offer.status, offer.responded_at = Offer.Status.ACCEPTED, now
    trip = offer.trip
    trip.status, trip.driver_id, trip.assigned_at = Trip.Status.ASSIGNED, driver_id, now
    DispatchEvent.objects.bulk_create(
        [
            dispatch_event(
                entity=DispatchEvent.Entity.OFFER,
                entity_id=offer.id,
                trip_id=offer.trip_id,
                from_status="open",
                to_status="accepted",
                actor=actor,
                at=now,
            ),
            dispatch_event(
                entity=DispatchEvent.Entity.TRIP,
                entity_id=offer.trip_id,
                trip_id=offer.trip_id,
                from_status="offered",
                to_status="assigned",
                actor=actor,
                at=now,
            ),
        ]
    )
    transaction.on_commit(lambda: _kick_sync(trip.id))
    return offer


def _kick_sync(trip_id: int) -> None:
    """Best effort: the sweep (trips_sync_assigned on the beat) catches what this misses."""
    try:
        tasks.trip_assigned_sync.delay(trip_id)
    except Exception:
        logger.warning("could not enqueue trip_assigned_sync(%s)", trip_id, exc_info=True)


@transaction.atomic
def offer_decline(
    *, offer_public_id: object, driver_id: int, actor: Actor, reason: str = ""
) -> Offer:
    now = clock.now()
    changed = Offer.objects.filter(
        public_id=offer_public_id, driver_id=driver_id, status=Offer.Status.OPEN
    ).update(status=Offer.Status.DECLINED, responded_at=now, updated_at=now)
    if changed != 1:
        raise _why_not(offer_public_id, driver_id)
    offer = Offer.objects.get(public_id=offer_public_id)
    _offer_events([offer], to=Offer.Status.DECLINED, actor=actor, note=reason[:300])
    _release_if_unanswered(offer.trip_id, actor=actor, note="declined")
    return offer


def _release_if_unanswered(trip_id: int, *, actor: Actor, note: str) -> None:
    """Once no offer of an offered trip is open, the trip goes back to the pool, boosted."""
    trip = Trip.objects.select_for_update().get(id=trip_id)
    if trip.status != Trip.Status.OFFERED:
        return
    if Offer.objects.filter(trip=trip, status=Offer.Status.OPEN).exists():
        return  # a broadcast: others may still take it
    card = rate_card_for(market_id=trip.market_id, at=clock.now())
    trips.trip_return_to_pool(
        trip, actor=actor, note=note, boost_cents=pricing.next_boost(card, trip.boost_cents)
    )


def offers_withdraw_open(*, trip: Trip, actor: Actor, note: str) -> int:
    """Close the trip's open offers (taken by another driver, cancelled, reassigned)."""
    open_offers = list(Offer.objects.filter(trip=trip, status=Offer.Status.OPEN))
    if not open_offers:
        return 0
    now = clock.now()
    Offer.objects.filter(id__in=[o.id for o in open_offers], status=Offer.Status.OPEN).update(
        status=Offer.Status.WITHDRAWN, responded_at=now, updated_at=now
    )
    _offer_events(open_offers, to=Offer.Status.WITHDRAWN, actor=actor, note=note)
    return len(open_offers)


def offers_expire_due(*, market_id: int | None = None) -> int:
    """Expire open offers past their time; their trips go back to the pool, boosted."""
    now = clock.now()
    due = Offer.objects.filter(status=Offer.Status.OPEN, expires_at__lte=now)
    if market_id is not None:
        due = due.filter(trip__market_id=market_id)
    trip_ids = sorted(set(due.values_list("trip_id", flat=True)[:2000]))
    actor = Actor.system("dispatch")
    expired = 0
    for trip_id in trip_ids:
        with transaction.atomic():
            trip = Trip.objects.select_for_update().get(id=trip_id)
            offers = list(
                Offer.objects.filter(trip=trip, status=Offer.Status.OPEN, expires_at__lte=now)
            )
            Offer.objects.filter(id__in=[o.id for o in offers], status=Offer.Status.OPEN).update(
                status=Offer.Status.EXPIRED, updated_at=now
            )
            _offer_events(offers, to=Offer.Status.EXPIRED, actor=actor)
            _release_if_unanswered(trip_id, actor=actor, note="expired")
            expired += len(offers)
    return expired
