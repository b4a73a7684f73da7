"""Trips: the one transition function, the driver's steps from store to door, ops actions.

Every step moves the trip's orders through orders.services (which writes the order events and
webhooks) in the same transaction, with the driver's location.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.crypto import constant_time_compare

from dispatch.models import DispatchEvent, Trip, TripStop
from dispatch.services import sql
from dispatch.services.events import dispatch_event
from drivers import selectors as driver_selectors
from orders import selectors as order_selectors
from orders import services as order_services
from spark.lib import clock
from spark.lib import sql as lib_sql
from spark.lib.actors import Actor
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
    trip = sql.lock_trip(trip_id, driver_id=driver_id)
    if trip is None:
        raise NotFound("No such trip.")
    _sync_if_just_accepted(trip)
    return trip


def _lock_trip_with_stops(
    trip_id: int, *, driver_id: int | None = None, lock_stops: bool = False
) -> tuple[Trip, list[TripStop]]:
    """The trip, locked, and its active stops in driving order (locked too with `lock_stops`),
    in one read."""
    found = sql.lock_trip_with_stops(trip_id, driver_id=driver_id, lock_stops=lock_stops)
    if found is None:
        raise NotFound("No such trip.")
    _sync_if_just_accepted(*found)
    return found


def _sync_if_just_accepted(trip: Trip, stops: list[TripStop] | None = None) -> None:
    if trip.status == Trip.Status.ASSIGNED:
        # A step right after the accept may beat the follow-up task; later steps never can
        # (checking in at the store already synced), so they skip its queries.
        _sync_assigned(trip, stops)


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


def trips_transition(trips: list[Trip], **move: Any) -> None:
    """Move trips together (a round offers hundreds): one UPDATE and one insert of events, in
    one round trip on PostgreSQL. The caller holds the row locks; every trip moves, or none
    does. `move`: to, actor, note, location, fields (trips_transition_statements). Sent with
    the transaction's next statement or its COMMIT (lib_sql.run_later)."""
    lib_sql.run_later(trips_transition_statements(trips, **move))


def trips_transition_statements(
    trips: list[Trip],
    *,
    to: str,
    actor: Actor,
    note: str = "",
    location: Point | None = None,
    fields: dict | None = None,
) -> list[lib_sql.Statement]:
    """trips_transition's checks and its statements, not yet sent: for a step that sends them
    with its orders' move (order_transition_many's `before_move`). The trips in memory have
    moved; the caller must send the statements in this transaction, or fail it."""
    for trip in trips:
        if not trip.can_transition_to(to):
            raise InvalidTransition(
                f"A trip that is {trip.status} cannot become {to}.", current_status=trip.status
            )
    if not trips:
        return []
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
    return [
        lib_sql.update_statement(Trip, [t.id for t in trips], update),
        *lib_sql.insert_statements(DispatchEvent, events),
    ]


def active_stops(trip: Trip) -> list[TripStop]:
    return sql.active_stops(trip.id)


def _pending_order_ids(trip: Trip) -> list[int]:
    return [s.order_id for s in active_stops(trip) if s.status == TripStop.Status.PENDING]


def courier_for(
    trip: Trip,
    *,
    stops: list[TripStop],
    location: Point | None = None,
    pickup_km: float | None = None,
    speed_kmh: float | None = None,
    introduce: bool = False,
) -> order_services.Courier:
    """What the store and the customer see of the trip's driver: first name, car, ETAs.

    The name and the car go to the orders once, when the trip is accepted (`introduce`); the
    later steps only move the position and the ETAs (a Courier without a name keeps them).
    """
    name = vehicle = ""
    if introduce:
        first_name, vehicle = driver_selectors.driver_courier_card(driver_id=trip.driver_id)
        name = (first_name or "Your driver").split(" ")[0]
    now = clock.now()
    pickup_eta = trip.arrived_at_store_at
    if pickup_eta is None and pickup_km is not None:
        if speed_kmh is None:
            speed_kmh = order_selectors.market_average_speed_kmh(market_id=trip.market_id)
        pickup_eta = now + timedelta(hours=pickup_km / max(speed_kmh, 1.0))
    return order_services.Courier(
        name=name,
        vehicle=vehicle,
        lat=location.lat if location else None,
        lng=location.lng if location else None,
        located_at=now if location else None,
        pickup_eta=pickup_eta,
        dropoff_eta=max((s.eta_at for s in stops if s.eta_at), default=None),
    )


def _move_orders(
    order_ids: list[int],
    *,
    to: str,
    actor: Actor,
    location: Point | None = None,
    note: str = "",
    courier: order_services.Courier | None = None,
    expected_from: frozenset[str] | None = None,
    before_move: order_services.BeforeMove | None = None,
) -> None:
    """order_transition_many for a trip step; `before_move` runs (and its writes are sent)
    even when there is no order to move."""
    if order_ids:
        order_services.order_transition_many(
            order_ids=order_ids,
            to=to,
            actor=actor,
            location=location,
            note=note,
            savepoint=False,  # a failed move fails the step: nothing here catches it
            courier=courier,
            expected_from=expected_from,
            before_move=before_move,
        )
    elif before_move is not None:
        lib_sql.run_later(before_move([]))


def _move_and_tell(
    trip: Trip,
    order_ids: list[int],
    *,
    to: str,
    actor: Actor,
    stops: list[TripStop] | None = None,
    location: Point | None = None,
    note: str = "",
    expected_from: frozenset[str] | None = None,
    before_move: order_services.BeforeMove | None = None,
    **courier_args: Any,
) -> None:
    """_move_orders, then the orders' courier snapshot, in the move's round trip (P11): in the
    move's own UPDATE when the orders it moves are the ones the trip still carries, else as
    one more statement sent with the move's writes (a driver at one door of a trip of
    several)."""
    stops = active_stops(trip) if stops is None else stops
    move = {"to": to, "actor": actor, "location": location, "note": note}
    if order_ids and sorted(set(order_ids)) == sorted(s.order_id for s in stops):
        courier = courier_for(trip, stops=stops, location=location, **courier_args)
        move |= {"courier": courier, "before_move": before_move}
        _move_orders(order_ids, **move, expected_from=expected_from)
        return
    if not stops:
        _move_orders(order_ids, **move, before_move=before_move, expected_from=expected_from)
        return
    courier = courier_for(trip, stops=stops, location=location, **courier_args)
    tell = order_services.order_courier_statement(
        order_ids=[s.order_id for s in stops], courier=courier
    )

    def and_tell(orders: list) -> list[lib_sql.Statement]:
        writes = list(before_move(orders)) if before_move is not None else []
        return [*writes, tell] if tell else writes

    _move_orders(order_ids, **move, before_move=and_tell, expected_from=expected_from)


def _sync_assigned(trip: Trip, stops: list[TripStop] | None = None) -> bool:
    """Bring a freshly accepted trip's world in line: withdraw its other offers, move its
    orders to driver_assigned and tell them who is coming. Idempotent; caller holds the lock.
    `stops`: the trip's active stops when read with its lock. Whether it had orders to move.

    Accepting does only the contested part (two conditional UPDATEs) so that it stays fast
    under a storm; this runs right after (a task kicked on commit, a sweep as the backstop)
    and before any later step of the trip.
    """
    from dispatch.services import offers

    if trip.status not in Trip.WITH_DRIVER:
        return False
    # Every later step of the trip comes here first: one light query says whether anything is
    # left to do (only right after the accept): offers still open, orders still offered.
    work = _sync_work(trip.id)
    if work.open_offers:
        offers.offers_withdraw_open(trip=trip, actor=Actor.system("dispatch"), note="taken")
    if not work.offered:
        return False
    actor = Actor(label=f"driver:{trip.driver_id}")
    _move_and_tell(
        trip,
        work.offered,
        to=ORDER["assigned"],
        actor=actor,
        stops=stops,
        note="trip accepted",
        pickup_km=work.pickup_km,
        speed_kmh=work.speed_kmh,
        introduce=True,
    )
    return True


@dataclass(frozen=True)
class _SyncWork:
    offered: list[int]  # orders of the trip's pending stops still offered
    open_offers: bool  # whether any offer of the trip is still open
    pickup_km: float | None  # the accepted offer's, and the market's speed: for the ETAs
    speed_kmh: float | None


def _sync_work(trip_id: int) -> _SyncWork:
    """What _sync_assigned has left to do for the trip, and what it needs to do it, in one
    read."""
    from dispatch.models import Offer

    order_table = TripStop._meta.get_field("order").related_model._meta.db_table
    market_table = Trip._meta.get_field("market").related_model._meta.db_table
    none = "CAST(NULL AS DOUBLE PRECISION)"  # typed: PostgreSQL types a UNION branch by branch
    lit = lib_sql.literal
    rows = lib_sql.fetch(
        f"SELECT 'order', s.order_id, {none}, {none} FROM {TripStop._meta.db_table} s"  # noqa: S608
        f" INNER JOIN {order_table} o ON o.id = s.order_id"
        f" WHERE s.trip_id = %s AND s.is_active = {lit(True)}"
        f" AND s.status = {lit(TripStop.Status.PENDING)} AND o.status = {lit(ORDER['offered'])}"
        f" UNION ALL SELECT 'offer', id, {none}, {none} FROM {Offer._meta.db_table}"
        f" WHERE trip_id = %s AND status = {lit(Offer.Status.OPEN)}"
        " UNION ALL SELECT 'accepted', f.id, f.pickup_km, m.average_speed_kmh"
        f" FROM {Offer._meta.db_table} f"
        f" INNER JOIN {Trip._meta.db_table} t ON t.id = f.trip_id"
        f" INNER JOIN {market_table} m ON m.id = t.market_id"
        f" WHERE f.trip_id = %s AND f.status = {lit(Offer.Status.ACCEPTED)}",
        [trip_id, trip_id, trip_id],
    )
    accepted = next(((km, speed) for kind, _, km, speed in rows if kind == "accepted"), None)
    return _SyncWork(
        offered=[i for kind, i, _, _ in rows if kind == "order"],
        open_offers=any(kind == "offer" for kind, *_ in rows),
        pickup_km=accepted[0] if accepted else None,
        speed_kmh=accepted[1] if accepted else None,
    )


def _trips_to_sync() -> list[tuple]:
    """Trips a driver has taken with an active pending stop whose order is still offered: the
    sync's work. Plain SQL, as the ORM's order__status lookup would join the orders' table."""
    lit = lib_sql.literal
    order_table = TripStop._meta.get_field("order").related_model._meta.db_table
    query = (
        f"SELECT DISTINCT s.trip_id FROM {TripStop._meta.db_table} s"  # noqa: S608
        f" INNER JOIN {Trip._meta.db_table} t ON t.id = s.trip_id"
        f" INNER JOIN {order_table} o ON o.id = s.order_id"
        f" WHERE s.is_active = {lit(True)} AND s.status = {lit(TripStop.Status.PENDING)}"
        f" AND o.status = {lit(ORDER['offered'])}"
        f" AND t.status IN ({lib_sql.literals(sorted(Trip.WITH_DRIVER))})"
    )
    return lib_sql.fetch(query + " ORDER BY s.trip_id LIMIT 500", [])


def trips_sync_assigned(*, trip_id: int | None = None) -> int:
    """The backstop sweep (and the on-commit task) for _sync_assigned; returns the trips whose
    orders it moved. The task names its trip, which is locked straight away (_sync_assigned's
    own read says whether anything is left to do: one query less after each accept, P11)."""
    due = [(trip_id,)] if trip_id is not None else _trips_to_sync()
    synced = 0
    for (tid,) in due:
        with transaction.atomic():
            found = sql.lock_trip_with_stops(tid, skip_locked=True)
            if found is not None and _sync_assigned(*found):
                synced += 1
    return synced


@transaction.atomic
def trip_arrive_at_store(*, trip_id: int, driver_id: int, actor: Actor, location: Point) -> Trip:
    trip, stops = _lock_trip_with_stops(trip_id, driver_id=driver_id)
    # The trip's move goes out with its orders' (one round trip less, P11).
    writes = trips_transition_statements(
        [trip],
        to=Trip.Status.AT_STORE,
        actor=actor,
        location=location,
        fields={"arrived_at_store_at": clock.now()},
    )
    pending = [s.order_id for s in stops if s.status == TripStop.Status.PENDING]
    _move_and_tell(
        trip,
        pending,
        to=ORDER["at_store"],
        actor=actor,
        stops=stops,
        location=location,
        before_move=lambda orders: writes,
    )
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
    trip, stops = _lock_trip_with_stops(trip_id, driver_id=driver_id)
    order_ids = [s.order_id for s in stops if s.status == TripStop.Status.PENDING]
    if trip.status == Trip.Status.ASSIGNED:  # staff may confirm before the driver checks in
        _trip_transition(
            trip,
            to=Trip.Status.AT_STORE,
            actor=actor,
            location=location,
            fields={"arrived_at_store_at": clock.now()},
        )
        _move_orders(order_ids, to=ORDER["at_store"], actor=actor, location=location)

    def before_move(orders: list) -> list[lib_sql.Statement]:
        # The codes are checked against the orders the move has locked (no read of its own; a
        # wrong code fails the step, the check-in above included), and the trip's move goes
        # out with theirs.
        if codes is not None:
            _check_pickup_codes(order_ids, codes, {o.id: o.pickup_code for o in orders})
        return trips_transition_statements(
            [trip],
            to=Trip.Status.IN_PROGRESS,
            actor=actor,
            location=location,
            fields={"picked_up_at": clock.now()},
        )

    _move_and_tell(
        trip,
        order_ids,
        to=ORDER["picked_up"],
        actor=actor,
        stops=stops,
        location=location,
        before_move=before_move,
    )
    return trip


def _check_pickup_codes(order_ids: list[int], codes: dict[int, str], expected: dict) -> None:
    wrong = [
        oid
        for oid in order_ids
        if not constant_time_compare((codes.get(oid) or "").strip(), expected[oid])
    ]
    if wrong:
        raise Unprocessable(
            "The pickup code does not match; ask the store associate for it.",
            code="pickup_code_mismatch",
            extra={"order_ids": wrong},
        )


def _lock_stop(trip: Trip, order_id: int) -> TripStop:
    stop = sql.lock_stop(trip.id, order_id)
    if stop is None:
        raise NotFound("No such stop on this trip.")
    return stop


def _stop_of(stops: list[TripStop], order_id: int) -> TripStop:
    """The order's stop among the trip's active stops."""
    stop = next((s for s in stops if s.order_id == order_id), None)
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
    trip, stops = _lock_trip_with_stops(trip_id, driver_id=driver_id, lock_stops=True)
    _require_in_progress(trip)
    stop = _stop_of(stops, order_id)
    _move_and_tell(
        trip,
        [order_id],
        to=ORDER["at_dropoff"],
        actor=actor,
        stops=stops,
        location=location,
        expected_from=frozenset({ORDER["picked_up"]}),
    )
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
    trip, stops = _lock_trip_with_stops(trip_id, driver_id=driver_id, lock_stops=True)
    _require_in_progress(trip)
    stop = _stop_of(stops, order_id)

    def before_move(orders: list) -> list[lib_sql.Statement]:
        # The proof is checked against the order the move has locked (no read of its own); the
        # stop, and the trip when this was its last, are written with the order's move.
        fields = _check_proof(orders[0], proof)
        if proof.photo is not None:
            stop.pod_photo.save(f"{stop.trip_id}-{order_id}.jpg", proof.photo, save=False)
            fields["pod_photo"] = stop.pod_photo
        fields |= {"status": TripStop.Status.DELIVERED, "delivered_at": clock.now()}
        fields |= {"pod_lat": location.lat, "pod_lng": location.lng}
        for name, value in fields.items():
            setattr(stop, name, value)  # (the stop is one of `stops`: they see it delivered)
        writes = [lib_sql.update_statement(TripStop, [stop.id], fields)]
        return writes + _completion(trip, actor=actor, location=location, stops=stops)

    order_services.order_transition(
        order_id=order_id,
        to=ORDER["delivered"],
        actor=actor,
        location=location,
        # the driver skipped "arrived": record it too
        via={ORDER["picked_up"]: ORDER["at_dropoff"]},
        expected_from=frozenset({ORDER["at_dropoff"]}),
        savepoint=False,
        before_move=before_move,
    )
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
            order_id=order_id,
            to=to,
            actor=actor,
            location=location,
            note=reason.strip(),
            savepoint=False,
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
    trip, stops = _lock_trip_with_stops(trip_id, driver_id=driver_id, lock_stops=True)
    stop = _stop_of(stops, order_id)
    if stop.status != TripStop.Status.UNDELIVERABLE:
        raise InvalidTransition(
            "Only an undeliverable order goes back to the store.", current_status=stop.status
        )
    order_services.order_transition(
        order_id=order_id,
        to=ORDER["returned"],
        actor=actor,
        location=location,
        savepoint=False,
    )
    stop.status = TripStop.Status.RETURNED
    stop.save(update_fields=["status"])
    _complete_if_done(trip, actor=actor, location=location, stops=stops)
    return stop


def _complete_if_done(
    trip: Trip, *, actor: Actor, location: Point | None, stops: list[TripStop] | None = None
) -> None:
    """Complete the trip when every active stop is final (`stops`: as the caller left them)."""
    lib_sql.run_later(_completion(trip, actor=actor, location=location, stops=stops))


def _completion(
    trip: Trip, *, actor: Actor, location: Point | None, stops: list[TripStop] | None = None
) -> list[lib_sql.Statement]:
    """_complete_if_done's statements, not yet sent (none when a stop is still open)."""
    stops = active_stops(trip) if stops is None else stops
    final = {TripStop.Status.DELIVERED, TripStop.Status.RETURNED}
    if not stops or not all(s.status in final for s in stops):
        return []
    return trips_transition_statements(
        [trip],
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
    statuses = order_selectors.order_statuses(ids=pending)
    back = [oid for oid in sorted(statuses) if statuses[oid] != ORDER["cancelled"]]
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
    stops = sql.lock_stops_of_cancelled_orders(market_id=market_id, cancelled=ORDER["cancelled"])
    actor = Actor.system("dispatch")
    removed = {"is_active": False, "status": TripStop.Status.REMOVED}
    lib_sql.update(TripStop, [stop_id for stop_id, _ in stops], removed)
    for trip_id in {trip_id for _, trip_id in stops}:
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
