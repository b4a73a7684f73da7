"""A simulated driver's trip, step by step through dispatch's trip services.

Accepted -> drive to the store -> check in -> the hand-off (pickup codes) -> drive to each door
-> arrive -> deliver with proof (or, nobody home, undeliverable) -> back to the store with what
could not be delivered -> free again, and back towards the nearest store to wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from dispatch import selectors as dispatch_selectors
from dispatch import services as dispatch_services
from spark.lib.errors import InvalidTransition, NotFound
from spark.lib.geo import Point, haversine_km
from spark.sim import world
from spark.sim.state import Move, SimDriver, SimOrder, TripRun, driver_actor, travel

if TYPE_CHECKING:
    from spark.sim.runner import Simulation

T = TypeVar("T")
REPOSITION_KM = 3.0  # a free driver further than this from every store drives back to one
UNDELIVERABLE = "Nobody at the door and the customer did not answer the phone."


class TripSteps:
    """The trip half of `Simulation` (kept apart to keep each file short)."""

    def _trip_start(self: Simulation, d: SimDriver, *, trip_id: int, store: int, key: int) -> None:
        d.stop_moving(self.t)
        d.trip = TripRun(trip_id=trip_id, store=store, key=key)
        d.busy_since = self.t
        km, seconds = travel(self.eta, d.where, self.stores[store])
        d.km_empty += km
        self.agenda.at(self.t + seconds, self._at_store, d)

    def _at_store(self: Simulation, d: SimDriver) -> None:
        run = _run(d)
        d.where = self.stores[run.store]
        arrived = self._step(
            lambda: dispatch_services.trip_arrive_at_store(
                trip_id=run.trip_id, driver_id=d.id, actor=driver_actor(d), location=d.where
            )
        )
        if arrived is None:
            self._trip_end(d)
            return
        wait = 60.0 + 180.0 * world.chance(self.p.seed, "store", run.key, d.plan.index)
        self.agenda.at(self.t + wait, self._pickup, d)

    def _pickup(self: Simulation, d: SimDriver) -> None:
        run = _run(d)

        def confirm() -> list[int]:
            ids = self._stop_order_ids(run.trip_id)
            dispatch_services.trip_confirm_pickup(
                trip_id=run.trip_id,
                actor=driver_actor(d),
                location=d.where,
                driver_id=d.id,
                codes={oid: self.by_id[oid].pickup_code for oid in ids},
            )
            return ids

        ids = self._step(confirm)
        if not ids:
            self._trip_end(d)
            return
        run.orders = ids
        for oid in ids:
            self.by_id[oid].picked_up = True
        self._drive_to_door(d)

    def _step(self: Simulation, fn: Callable[[], T]) -> T | None:
        """A driver's step; None when the trip is gone (every order cancelled). An order the
        shop cancelled moments ago is still on the trip until a round drops it: drop it now
        (the same sweep the round runs) and try once more."""
        try:
            return fn()
        except InvalidTransition:
            dispatch_services.trips_drop_cancelled_orders(market_id=self.market.id)
        try:
            return fn()
        except (InvalidTransition, NotFound):
            self.trace.counts["trips_cancelled_under_driver"] += 1
            return None

    def _stop_order_ids(self: Simulation, trip_id: int) -> list[int]:
        stops = dispatch_selectors.trip_stop_queryset().filter(trip_id=trip_id, is_active=True)
        return list(stops.order_by("sequence").values_list("order_id", flat=True))

    def _drive_to_door(self: Simulation, d: SimDriver) -> None:
        order = self._current(d)
        km, seconds = travel(self.eta, d.where, _door(order))
        d.km_loaded += km
        self.agenda.at(self.t + seconds, self._at_door, d)

    def _at_door(self: Simulation, d: SimDriver) -> None:
        run, order = _run(d), self._current(d)
        d.where = _door(order)
        dispatch_services.trip_stop_arrive(
            trip_id=run.trip_id,
            driver_id=d.id,
            order_id=order.id,
            actor=driver_actor(d),
            location=d.where,
        )
        self.agenda.at(self.t + order.plan.door_s, self._hand_off, d)

    def _hand_off(self: Simulation, d: SimDriver) -> None:
        run, order = _run(d), self._current(d)
        where: dict[str, Any] = {"trip_id": run.trip_id, "driver_id": d.id, "order_id": order.id}
        where |= {"actor": driver_actor(d), "location": d.where}
        if order.plan.undeliverable:
            dispatch_services.trip_stop_undeliverable(**where, reason=UNDELIVERABLE)
            run.failed.append(order.id)
        else:
            proof = dispatch_services.Proof(
                signature_name=f"Customer {order.plan.index}",
                pin=order.pin,
                id_checked=order.plan.contains_alcohol,
            )
            dispatch_services.trip_stop_deliver(**where, proof=proof)
            self._final(order)
        run.stop += 1
        if run.stop < len(run.orders):
            self._drive_to_door(d)
        elif run.failed:
            km, seconds = travel(self.eta, d.where, self.stores[run.store])
            d.km_loaded += km
            self.agenda.at(self.t + seconds, self._back_at_store, d)
        else:
            self._trip_end(d)

    def _back_at_store(self: Simulation, d: SimDriver) -> None:
        run = _run(d)
        d.where = self.stores[run.store]
        for oid in run.failed:
            dispatch_services.trip_stop_return(
                trip_id=run.trip_id,
                order_id=oid,
                actor=driver_actor(d),
                location=d.where,
                driver_id=d.id,
            )
            self._final(self.by_id[oid])
        self._trip_end(d)

    def _trip_end(self: Simulation, d: SimDriver) -> None:
        d.trip = None
        d.busy_s += self.t - d.busy_since
        if d.leaving:
            self._go_offline(d)
            return
        self._ping(d)
        self._reposition(d)

    def _reposition(self: Simulation, d: SimDriver) -> None:
        store = min(self.stores, key=lambda s: haversine_km(d.where, s))
        if haversine_km(d.where, store) <= REPOSITION_KM:
            return
        km, seconds = travel(self.eta, d.where, store)
        d.move = Move(start=d.where, end=store, t0=self.t, t1=self.t + seconds, km=km)
        self.agenda.at(self.t + seconds, self._parked, d, d.move)

    def _parked(self: Simulation, d: SimDriver, move: Move) -> None:
        if d.move is not move:
            return  # a trip came first
        d.stop_moving(self.t)
        if d.online:
            self._ping(d)

    def _current(self: Simulation, d: SimDriver) -> SimOrder:
        run = _run(d)
        return self.by_id[run.orders[run.stop]]


def _run(d: SimDriver) -> TripRun:
    if d.trip is None:
        raise RuntimeError(f"simulated driver {d.plan.index} has no trip")
    return d.trip


def _door(order: SimOrder) -> Point:
    return Point(order.plan.dropoff_lat, order.plan.dropoff_lng)
