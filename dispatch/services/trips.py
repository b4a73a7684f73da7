"""Trips: the one transition function, the driver's steps from store to door, ops actions.

Every step moves the trip's orders through orders.services (which writes the order events and
webhooks) in the same transaction, with the driver's location.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.crypto import constant_time_compare

from dispatch.models import DispatchEvent, Trip, TripStop
from dispatch.services.events import dispatch_event
from drivers import selectors as driver_selectors
from orders import selectors as order_selectors
from orders import services as order_services
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.db import one_or_none
from spark.lib.errors import ApplicationError, InvalidTransition, NotFound, Unprocessable
from spark.lib.geo import Point

# Order statuses by the step that sets them (orders owns the lifecycle; these are its values).
ORDER = {
    "ready": "ready_for_pickup",
    "offered": "offered",
    "assigned": "driver_assigned",
    "at_store": "driver_at_store",
    "picked_up": "picked_up",
    "at_dropoff": "driver_at_dropoff",
    "delivered": "delivered",
    "undeliverable": "undeliverable",
    "returning": "returning",
    "returned": "returned_to_store",
    "cancelled": "cancelled",
}


class ProofMissing(ApplicationError):
    status_code = 422
    code = "proof_of_delivery_missing"


def _lock_trip(trip_id: int, *, driver_id: int | None = None) -> Trip:
    qs = Trip.objects.select_for_update(of=("self",)).select_related("market").filter(id=trip_id)
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    trip = one_or_none(qs)
    if trip is None:
        raise NotFound("No such trip.")
    if trip.status == Trip.Status.ASSIGNED:
        # A step right after the accept may beat the follow-up task; later steps never can
        # (checking in at the store already synced), so they skip its queries.
        _sync_assigned(trip)
    return trip


def _trip_transition(
    trip: Trip,
    *,
    to: str,
    actor: Actor,
    note: str = "",
    location: Point | None = None,
    fields: dict | None = None,
) -> None:
    """The only writer of Trip.status. The caller holds the row lock."""
    trips_transition([trip], to=to, actor=actor, note=note, location=location, fields=fields)


def trips_transition(
    trips: list[Trip],
    *,
    to: str,
    actor: Actor,
    note: str = "",
    location: Point | None = None,
    fields: dict | None = None,
) -> None:
    """Move trips together (a round offers hundreds): one UPDATE and one insert of events.

    The caller holds the row locks; every trip moves, or none does.
    """
    for trip in trips:
        if not trip.can_transition_to(to):
            raise InvalidTransition(
                f"A trip that is {trip.status} cannot become {to}.", current_status=trip.status
            )
    if not trips:
        return
    now = clock.now()
    update = {"status": to, "status_changed_at": now, "updated_at": now, **(fields or {})}
    events = []
    for trip in trips:
        events.append(
            dispatch_event(
                entity=DispatchEvent.Entity.TRIP,
                entity_id=trip.id,
                trip_id=trip.id,
                from_status=trip.status,
                to_status=to,
                actor=actor,
                at=now,
                note=note,
                location=location,
            )
        )
        for name, value in update.items():
            setattr(trip, name, value)
    Trip.objects.filter(id__in=[t.id for t in trips]).update(**update)
    DispatchEvent.objects.bulk_create(events)


def active_stops(trip: Trip) -> list[TripStop]:
    return list(trip.stops.filter(is_active=True).order_by("sequence"))


def _pending_order_ids(trip: Trip) -> list[int]:
    return [s.order_id for s in active_stops(trip) if s.status == TripStop.Status.PENDING]


def courier_for(
    trip: Trip,
    *,
    stops: list[TripStop],
    location: Point | None = None,
    pickup_km: float | None = None,
) -> order_services.Courier:
    """What the store and the customer see of the trip's driver: first name, car, ETAs."""
    driver = driver_selectors.driver_get(driver_id=trip.driver_id)
    vehicle = getattr(driver, "vehicle", None)
    now = clock.now()
    pickup_eta = trip.arrived_at_store_at
    if pickup_eta is None and pickup_km is not None:
        pickup_eta = now + timedelta(hours=pickup_km / max(trip.market.average_speed_kmh, 1.0))
    return order_services.Courier(
        name=(driver.user.first_name or "Your driver").split(" ")[0],
        vehicle=f"{vehicle.make} {vehicle.model}" if vehicle else "",
        lat=location.lat if location else None,
        lng=location.lng if location else None,
        located_at=now if location else None,
        pickup_eta=pickup_eta,
        dropoff_eta=max((s.eta_at for s in stops if s.eta_at), default=None),
    )


def _tell_orders(
    trip: Trip,
    *,
    location: Point | None,
    stops: list[TripStop] | None = None,
    pickup_km: float | None = None,
) -> None:
    """Keep the orders' courier snapshot current (board, tracking page)."""
    stops = active_stops(trip) if stops is None else stops
    if not stops:
        return
    courier = courier_for(trip, stops=stops, location=location, pickup_km=pickup_km)
    order_services.order_courier_update(order_ids=[s.order_id for s in stops], courier=courier)


def _move_orders(
    order_ids: list[int], *, to: str, actor: Actor, location: Point | None = None, note: str = ""
) -> None:
    if order_ids:
        order_services.order_transition_many(
            order_ids=order_ids, to=to, actor=actor, location=location, note=note
        )


def _sync_assigned(trip: Trip) -> None:
    """Bring a freshly accepted trip's world in line: withdraw its other offers, move its
    orders to driver_assigned and tell them who is coming. Idempotent; caller holds the lock.

    Accepting does only the contested part (two conditional UPDATEs) so that it stays fast
    under a storm; this runs right after (a task kicked on commit, a sweep as the backstop)
    and before any later step of the trip.
    """
    from dispatch.models import Offer
    from dispatch.services import offers

    if trip.status not in Trip.WITH_DRIVER:
        return
    offers.offers_withdraw_open(trip=trip, actor=Actor.system("dispatch"), note="taken")
    stops = active_stops(trip)
    pending = [s.order_id for s in stops if s.status == TripStop.Status.PENDING]
    statuses = {o.id: o.status for o in order_selectors.order_list_by_ids(ids=pending)}
    offered = [oid for oid in pending if statuses.get(oid) == ORDER["offered"]]
    if not offered:
        return
    accepted = (
        Offer.objects.filter(trip=trip, status=Offer.Status.ACCEPTED).only("pickup_km").first()
    )
    actor = Actor(label=f"driver:{trip.driver_id}")
    _move_orders(offered, to=ORDER["assigned"], actor=actor, note="trip accepted")
    _tell_orders(
        trip, location=None, stops=stops, pickup_km=accepted.pickup_km if accepted else None
    )


def trips_sync_assigned(*, trip_id: int | None = None) -> int:
    """The backstop sweep (and the on-commit task) for _sync_assigned; returns trips synced."""
    due = TripStop.objects.filter(
        is_active=True,
        status=TripStop.Status.PENDING,
        trip__status__in=Trip.WITH_DRIVER,
        order__status=ORDER["offered"],
    )
    if trip_id is not None:
        due = due.filter(trip_id=trip_id)
    synced = 0
    for tid in sorted(set(due.values_list("trip_id", flat=True)[:500])):
        with transaction.atomic():
            trip = one_or_none(
                Trip.objects.select_for_update(skip_locked=True)
                .select_related("market")
                .filter(id=tid)
            )
            if trip is not None:
                _sync_assigned(trip)
                synced += 1
    return synced


@transaction.atomic
def trip_arrive_at_store(*, trip_id: int, driver_id: int, actor: Actor, location: Point) -> Trip:
    trip = _lock_trip(trip_id, driver_id=driver_id)
    _trip_transition(
        trip,
        to=Trip.Status.AT_STORE,
        actor=actor,
        location=location,
        fields={"arrived_at_store_at": clock.now()},
    )
    _move_orders(_pending_order_ids(trip), to=ORDER["at_store"], actor=actor, location=location)
    _tell_orders(trip, location=location)
    return trip


@transaction.atomic
def trip_confirm_pickup(
    *,
    trip_id: int,
    actor: Actor,
    location: Point | None = None,
    driver_id: int | None = None,
    codes: dict[int, str] | None = None,
) -> Trip:
    """The hand-off: the driver enters each order's pickup code (which the store gives), or
    store staff confirm it in their dashboard (then `codes` is None and driver_id is None)."""
    trip = _lock_trip(trip_id, driver_id=driver_id)
    order_ids = _pending_order_ids(trip)
    if codes is not None:
        orders = {o.id: o for o in order_selectors.order_list_by_ids(ids=order_ids)}
        wrong = [
            oid
            for oid in order_ids
            if not constant_time_compare((codes.get(oid) or "").strip(), orders[oid].pickup_code)
        ]
        if wrong:
            raise Unprocessable(
                "The pickup code does not match; ask the store associate for it.",
                code="pickup_code_mismatch",
                extra={"order_ids": wrong},
            )
    if trip.status == Trip.Status.ASSIGNED:  # staff may confirm before the driver checks in
        _trip_transition(
            trip,
            to=Trip.Status.AT_STORE,
            actor=actor,
            location=location,
            fields={"arrived_at_store_at": clock.now()},
        )
        _move_orders(order_ids, to=ORDER["at_store"], actor=actor, location=location)
    _trip_transition(
        trip,
        to=Trip.Status.IN_PROGRESS,
        actor=actor,
        location=location,
        fields={"picked_up_at": clock.now()},
    )
    _move_orders(order_ids, to=ORDER["picked_up"], actor=actor, location=location)
    _tell_orders(trip, location=location)
    return trip


def _lock_stop(trip: Trip, order_id: int) -> TripStop:
    stop = one_or_none(
        TripStop.objects.select_for_update().filter(trip=trip, order_id=order_id, is_active=True)
    )
    if stop is None:
        raise NotFound("No such stop on this trip.")
    return stop


def _require_in_progress(trip: Trip) -> None:
    if trip.status != Trip.Status.IN_PROGRESS:
        raise InvalidTransition(
            "Pick up the orders before delivering them.", current_status=trip.status
        )


@transaction.atomic
def trip_stop_arrive(
    *, trip_id: int, driver_id: int, order_id: int, actor: Actor, location: Point
) -> TripStop:
    trip = _lock_trip(trip_id, driver_id=driver_id)
    _require_in_progress(trip)
    stop = _lock_stop(trip, order_id)
    order_services.order_transition(
        order_id=order_id,
        to=ORDER["at_dropoff"],
        actor=actor,
        location=location,
        expected_from=frozenset({ORDER["picked_up"]}),
    )
    _tell_orders(trip, location=location)
    return stop


@dataclass(frozen=True)
class Proof:
    photo: UploadedFile | None = None
    signature_name: str = ""
    pin: str = ""
    id_checked: bool = False


def _check_proof(order: object, proof: Proof) -> dict:
    """What the order's requirements ask for at the door; raises with what is missing."""
    missing = []
    if order.signature_required and not proof.signature_name.strip():
        missing.append("the recipient's name as signature")
    if order.pin_required and not constant_time_compare(proof.pin.strip(), order.dropoff_pin):
        missing.append("the customer's PIN")
    if order.contains_alcohol and not proof.id_checked:
        missing.append("an ID check (21 or over)")
    if proof.photo is None and not order.signature_required:
        missing.append("a photo of the delivered order")
    if missing:
        raise ProofMissing(
            "Proof of delivery needs " + ", ".join(missing) + ".", extra={"missing": missing}
        )
    return {
        "pod_signature_name": proof.signature_name.strip()[:200],
        "pod_pin_ok": True if order.pin_required else None,
        "pod_id_checked": True if order.contains_alcohol else None,
    }


@transaction.atomic
def trip_stop_deliver(
    *, trip_id: int, driver_id: int, order_id: int, proof: Proof, actor: Actor, location: Point
) -> TripStop:
    trip = _lock_trip(trip_id, driver_id=driver_id)
    _require_in_progress(trip)
    stop = _lock_stop(trip, order_id)
    order = order_selectors.order_get(order_id=order_id)
    fields = _check_proof(order, proof)
    if order.status == ORDER["picked_up"]:  # the driver skipped "arrived": record it too
        order_services.order_transition(
            order_id=order_id, to=ORDER["at_dropoff"], actor=actor, location=location
        )
    order_services.order_transition(
        order_id=order_id,
        to=ORDER["delivered"],
        actor=actor,
        location=location,
        expected_from=frozenset({ORDER["at_dropoff"]}),
    )
    now = clock.now()
    for name, value in fields.items():
        setattr(stop, name, value)
    if proof.photo is not None:
        stop.pod_photo.save(f"{stop.trip_id}-{order_id}.jpg", proof.photo, save=False)
    stop.status, stop.delivered_at = TripStop.Status.DELIVERED, now
    stop.pod_lat, stop.pod_lng = location.lat, location.lng
    stop.save()
    _complete_if_done(trip, actor=actor, location=location)
    return stop


@transaction.atomic
def trip_stop_undeliverable(
    *, trip_id: int, driver_id: int, order_id: int, reason: str, actor: Actor, location: Point
) -> TripStop:
    if not reason.strip():
        raise Unprocessable("Say why the order cannot be delivered.", code="reason_required")
    trip = _lock_trip(trip_id, driver_id=driver_id)
    _require_in_progress(trip)
    stop = _lock_stop(trip, order_id)
    for to in (ORDER["undeliverable"], ORDER["returning"]):
        order_services.order_transition(
            order_id=order_id, to=to, actor=actor, location=location, note=reason.strip()
        )
    stop.status, stop.undeliverable_reason = TripStop.Status.UNDELIVERABLE, reason.strip()[:300]
    stop.save(update_fields=["status", "undeliverable_reason"])
    return stop


@transaction.atomic
def trip_stop_return(
    *,
    trip_id: int,
    order_id: int,
    actor: Actor,
    location: Point | None = None,
    driver_id: int | None = None,
) -> TripStop:
    """The order is back at the store (the driver says so, or store staff confirm it)."""
    trip = _lock_trip(trip_id, driver_id=driver_id)
    stop = _lock_stop(trip, order_id)
    if stop.status != TripStop.Status.UNDELIVERABLE:
        raise InvalidTransition(
            "Only an undeliverable order goes back to the store.", current_status=stop.status
        )
    order_services.order_transition(
        order_id=order_id, to=ORDER["returned"], actor=actor, location=location
    )
    stop.status = TripStop.Status.RETURNED
    stop.save(update_fields=["status"])
    _complete_if_done(trip, actor=actor, location=location)
    return stop


def _complete_if_done(trip: Trip, *, actor: Actor, location: Point | None) -> None:
    stops = active_stops(trip)
    final = {TripStop.Status.DELIVERED, TripStop.Status.RETURNED}
    if stops and all(s.status in final for s in stops):
        _trip_transition(
            trip,
            to=Trip.Status.COMPLETED,
            actor=actor,
            location=location,
            fields={"completed_at": clock.now()},
        )


# --- back to the pool, cancellation, ops --------------------------------------------------


def trip_return_to_pool(trip: Trip, *, actor: Actor, note: str, boost_cents: int) -> None:
    """Declined, expired, or taken off a driver: the trip waits for the next round, boosted.

    Caller holds the lock. Open offers are withdrawn; orders go back to ready_for_pickup.
    """
    from dispatch.services import offers  # the offer and trip modules call each other

    offers.offers_withdraw_open(trip=trip, actor=actor, note=note)
    fields = {
        "driver": None,
        "assigned_at": None,
        "arrived_at_store_at": None,
        "is_broadcast": False,
        "boost_cents": boost_cents,
        "unaccepted_rounds": trip.unaccepted_rounds + 1,
    }
    _trip_transition(trip, to=Trip.Status.POOLED, actor=actor, note=note, fields=fields)
    # An order the shop cancelled while the trip was out stays a pending stop until the
    # round's trips_drop_cancelled_orders removes it: it must not (and cannot) go back to
    # ready, or every later round of the market, which expires offers first, would fail here.
    pending = _pending_order_ids(trip)
    back = [
        o.id
        for o in order_selectors.order_list_by_ids(ids=pending)
        if o.status != ORDER["cancelled"]
    ]
    _move_orders(back, to=ORDER["ready"], actor=actor, note=note)
    order_services.order_courier_update(order_ids=back, courier=None)


@transaction.atomic
def trip_reassign(*, trip_id: int, actor: Actor, reason: str) -> Trip:
    """Ops take a trip off its driver (before pickup); it goes back to the pool."""
    if not reason.strip():
        raise Unprocessable("A reason is required.", code="reason_required")
    trip = _lock_trip(trip_id)
    if trip.status not in {Trip.Status.ASSIGNED, Trip.Status.AT_STORE, Trip.Status.OFFERED}:
        raise InvalidTransition(
            "Only a trip not yet picked up can be reassigned.", current_status=trip.status
        )
    trip_return_to_pool(trip, actor=actor, note=reason.strip(), boost_cents=trip.boost_cents)
    return trip


@transaction.atomic
def trip_cancel(*, trip_id: int, actor: Actor, reason: str) -> Trip:
    """Ops cancel a trip and its orders (before pickup)."""
    if not reason.strip():
        raise Unprocessable("A reason is required.", code="reason_required")
    trip = _lock_trip(trip_id)
    if trip.status not in {
        Trip.Status.POOLED,
        Trip.Status.OFFERED,
        Trip.Status.ASSIGNED,
        Trip.Status.AT_STORE,
    }:
        raise InvalidTransition(
            "Only a trip not yet picked up can be cancelled.", current_status=trip.status
        )
    from dispatch.services import offers

    offers.offers_withdraw_open(trip=trip, actor=actor, note=reason)
    for order_id in _pending_order_ids(trip):
        order_services.order_cancel(order_id=order_id, actor=actor, reason=reason.strip())
    _trip_transition(trip, to=Trip.Status.CANCELLED, actor=actor, note=reason.strip())
    return trip


@transaction.atomic
def trips_drop_cancelled_orders(*, market_id: int) -> int:
    """Pull, not push: orders the shop cancelled leave their live trips; an empty trip ends.

    Returns how many stops were removed. A driver already on the way keeps a cancelled trip
    (status cancelled from assigned/at_store), which payouts pays as a cancellation.
    """
    stops = list(
        TripStop.objects.select_for_update(of=("self",))
        .filter(
            is_active=True,
            status=TripStop.Status.PENDING,
            trip__market_id=market_id,
            trip__status__in=Trip.ACTIVE,
            order__status=ORDER["cancelled"],
        )
        .select_related("trip")
    )
    actor = Actor.system("dispatch")
    for stop in stops:
        stop.is_active, stop.status = False, TripStop.Status.REMOVED
        stop.save(update_fields=["is_active", "status"])
    for trip_id in {s.trip_id for s in stops}:
        trip = _lock_trip(trip_id)
        if not active_stops(trip):
            from dispatch.services import offers

            offers.offers_withdraw_open(trip=trip, actor=actor, note="orders cancelled")
            _trip_transition(
                trip,
                to=Trip.Status.CANCELLED,
                actor=actor,
                note="all orders were cancelled by the shop",
            )
    return len(stops)
