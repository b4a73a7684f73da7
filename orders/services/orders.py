"""Orders: creation, the one transition function, and the shop's actions (ready, cancel, tip)."""

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from orders.models import Merchant, Order, OrderEvent, Quote
from orders.representations import event_fields_to_dict, order_body, order_stub, order_to_dict
from orders.services import quotes, sql, webhooks
from spark.lib import clock
from spark.lib import sql as lib_sql
from spark.lib.actors import Actor
from spark.lib.db import one_or_none
from spark.lib.errors import (
    ConcurrentRequest,
    Conflict,
    InvalidTransition,
    NotFound,
    Unprocessable,
)
from spark.lib.geo import Point


@dataclass(frozen=True)
class OrderInput:
    external_order_id: str
    customer_name: str
    customer_phone: str
    order_value_cents: int
    store_id: Any = None
    quote_id: Any = None
    dropoff_address: str = ""
    dropoff_lat: float | None = None
    dropoff_lng: float | None = None
    dropoff_instructions: str = ""
    items: tuple[dict, ...] = ()
    tip_cents: int = 0
    contactless: bool = False
    signature_required: bool = False
    pin_required: bool = False
    contains_alcohol: bool = False
    pickup_ready_at: datetime | None = None
    dropoff_window_start: datetime | None = None
    dropoff_window_end: datetime | None = None

    def fingerprint(self) -> str:
        canonical = json.dumps(self.__dict__, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _load_quote(merchant: Merchant, data: OrderInput, now: datetime) -> Quote:
    quote = one_or_none(
        Quote.objects.select_related("store__market").filter(
            merchant=merchant, public_id=data.quote_id
        )
    )
    if quote is None:
        raise Unprocessable("No such quote.", code="quote_not_found")
    if quote.expires_at <= now:
        raise Unprocessable("The quote has expired; ask for a new one.", code="quote_expired")
    used = Order.objects.filter(quote=quote).exclude(external_order_id=data.external_order_id)
    if used.exists():  # by another order; a retry of the same order finds its own below
        raise Conflict("The quote was already used for another order.", code="quote_used")
    if data.store_id is not None and str(data.store_id) != str(quote.store.public_id):
        raise Unprocessable("store_id differs from the quote's store.", code="quote_mismatch")
    return quote


def _order_fields(merchant: Merchant, data: OrderInput, now: datetime) -> dict[str, Any]:
    quote = _load_quote(merchant, data, now) if data.quote_id else None
    if quote is not None:
        store = quote.store
        lat, lng = quote.dropoff_lat, quote.dropoff_lng
        address = data.dropoff_address or quote.dropoff_address
        if data.dropoff_lat is not None and (data.dropoff_lat, data.dropoff_lng) != (lat, lng):
            raise Unprocessable("The drop-off differs from the quote's.", code="quote_mismatch")
    else:
        store = quotes.store_for_merchant(merchant=merchant, store_public_id=data.store_id)
        lat, lng, address = data.dropoff_lat, data.dropoff_lng, data.dropoff_address
    ready_at = data.pickup_ready_at or now
    est = quotes.estimate(
        store=store, dropoff_lat=lat, dropoff_lng=lng, pickup_ready_at=ready_at, now=now
    )
    window_start = data.dropoff_window_start or est.dropoff_eta
    window_end = data.dropoff_window_end or window_start + timedelta(
        minutes=store.market.dropoff_window_minutes
    )
    if window_end <= window_start or window_end <= now:
        raise Unprocessable(
            "The drop-off window must end after it starts, in the future.",
            code="invalid_dropoff_window",
        )
    return {
        "store": store,
        "quote": quote,
        "dropoff_address": address,
        "dropoff_lat": lat,
        "dropoff_lng": lng,
        "fee_cents": quote.fee_cents if quote else est.fee_cents,
        "distance_m": est.distance_m,
        "currency": store.market.currency,
        "pickup_ready_at": ready_at,
        "dropoff_window_start": window_start,
        "dropoff_window_end": window_end,
    }


@dataclass(frozen=True)
class OrderCreated:
    order: Order
    created: bool
    # The order as the API shows it (and as the order.created webhook carries it).
    body: dict[str, Any]


UNIQUE_EXTERNAL_ID = "external_order_id_unique_per_store"


def _existing_order(merchant: Merchant, data: OrderInput) -> Order | None:
    """The order a retry refers to: same merchant, store (or the quote's) and external id."""
    orders = Order.objects.select_related("store").filter(
        merchant=merchant, external_order_id=data.external_order_id
    )
    if data.quote_id:
        orders = orders.filter(quote__public_id=data.quote_id)
    else:
        orders = orders.filter(store__public_id=data.store_id)
    return one_or_none(orders)


def order_create(*, merchant: Merchant, data: OrderInput, actor: Actor) -> OrderCreated:
    """Create an order, or return the one a retry with the same external id already made.

    The same external_order_id at the same store with another payload is a conflict (409),
    never a second order. The common case (a new id) costs no extra lookup: the unique index
    decides, and only a violation reads the existing order.
    """
    request_hash = data.fingerprint()
    try:
        return _order_insert(merchant=merchant, data=data, actor=actor, request_hash=request_hash)
    except IntegrityError as exc:
        if not any(name in str(exc) for name in (UNIQUE_EXTERNAL_ID, "quote_id")):
            raise
        existing = _existing_order(merchant, data)
        if existing is None:  # the twin rolled back after all
            raise ConcurrentRequest("Another request was creating this order; retry.") from exc
        if existing.request_hash != request_hash:
            raise Conflict(
                "external_order_id is already used at this store for a different order.",
                code="duplicate_external_order_id",
                extra={"order_id": str(existing.public_id)},
            ) from exc
        return OrderCreated(existing, False, order_to_dict(existing))


@transaction.atomic
def _order_insert(
    *, merchant: Merchant, data: OrderInput, actor: Actor, request_hash: str
) -> OrderCreated:
    now = clock.now()
    fields = _order_fields(merchant, data, now)
    order = Order(
        merchant=merchant,
        external_order_id=data.external_order_id,
        request_hash=request_hash,
        customer_name=data.customer_name,
        customer_phone=data.customer_phone,
        dropoff_instructions=data.dropoff_instructions,
        items=list(data.items),
        order_value_cents=data.order_value_cents,
        tip_cents=data.tip_cents,
        contactless=data.contactless,
        signature_required=data.signature_required,
        pin_required=data.pin_required,
        contains_alcohol=data.contains_alcohol,
        dropoff_pin=f"{secrets.randbelow(10**4):04d}" if data.pin_required else "",
        status=Order.Status.CREATED,
        status_changed_at=now,
        **fields,
    )
    lib_sql.insert(Order, [order], ids=True)
    event = _event(order, from_status="", to_status=order.status, actor=actor, at=now)
    body = order_to_dict(order, events=[event])
    # Whether the merchant has an active endpoint, when the store was read with it (not from a
    # quote): without one, no delivery is looked for.
    has_webhooks = getattr(order.store, "has_webhooks", None)
    if has_webhooks is not None:
        order.has_webhooks = has_webhooks
    created = webhooks.OutboxEvent(
        order.merchant_id, order, "order.created", {"order": body}, has_webhooks is not False
    )
    # the event goes with the outbox rows, sent with the COMMIT
    webhooks.webhook_events_emit(
        [created], with_writes=lib_sql.insert_statements(OrderEvent, [event])
    )
    return OrderCreated(order, True, body)


def _event(
    order: Order,
    *,
    from_status: str,
    to_status: str,
    actor: Actor,
    at: datetime,
    kind: str = "status_changed",
    note: str = "",
    location: Point | None = None,
) -> OrderEvent:
    return OrderEvent(
        order=order,
        from_status=from_status,
        to_status=to_status,
        kind=kind,
        actor_id=actor.user_id,
        actor_label=actor.label,
        at=at,
        note=note,
        lat=location.lat if location else None,
        lng=location.lng if location else None,
    )


def _event_write(order: Order, **fields: Any) -> OrderEvent:
    event = _event(order, **fields)
    lib_sql.insert(OrderEvent, [event])
    return event


def _emit_many(
    orders: list[Order],
    type: str,
    *,
    new_events: Sequence[OrderEvent] = (),
    writes: Sequence[lib_sql.Statement] = (),
) -> None:
    """The outbox rows of orders that moved, from `sql.lock_orders` (which brings each store's
    public id along, and whether the merchant has an active endpoint).

    An event goes to a shop with the whole order and its events. A shop without an active
    endpoint gets no delivery, so its event keeps only who and what (the order's ids and
    status): building and storing the whole body would cost more than the move itself.

    `new_events` and `writes` are the move's own, not yet written: the bodies show the events
    read now plus the new ones (as a read after the writes would), and the writes go out with
    the outbox rows.
    """
    hooked = [order.id for order in orders if getattr(order, "has_webhooks", True)]
    history = sql.event_rows(hooked)
    for event in new_events:
        if event.order_id in history:
            _append_in_order(history[event.order_id], _event_fields(event))
    outbox = []
    for order in orders:
        store_id = getattr(order, "store_public_id", None)
        if order.id in history:
            rows = history[order.id]
            events = [event_fields_to_dict(**row) for row in rows]
            body = order_body(order, events=events, store_public_id=store_id)
        else:
            body = order_stub(order, store_public_id=store_id)
        deliver = order.id in history
        outbox.append(
            webhooks.OutboxEvent(order.merchant_id, order, type, {"order": body}, deliver)
        )
    webhooks.webhook_events_emit(outbox, with_writes=writes)


def _event_fields(event: OrderEvent) -> dict[str, Any]:
    """A new event as sql.event_rows reads events back (its time in UTC, as stored)."""
    return {
        "kind": event.kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "at": event.at.astimezone(UTC),
        "note": event.note,
        "lat": event.lat,
        "lng": event.lng,
    }


def _append_in_order(rows: list[dict[str, Any]], new: dict[str, Any]) -> None:
    """Events are ordered by (at, id): a new one (the highest id) goes after every event that
    is not later than it."""
    i = len(rows)
    while i and rows[i - 1]["at"] > new["at"]:
        i -= 1
    rows.insert(i, new)


def _lock(order_id: int) -> Order:
    orders = sql.lock_orders("o.id = %s", [order_id])
    if not orders:
        raise NotFound("No such order.")
    return orders[0]


def _lock_for_merchant(merchant: Merchant, public_id: object) -> Order:
    """The merchant's order by its public id, locked (another merchant's order is not found)."""
    orders = sql.lock_orders(
        "o.merchant_id = %s AND o.public_id = %s",
        [merchant.id, lib_sql.prep(Order, "public_id", public_id)],
    )
    if not orders:
        raise NotFound("No such order.")
    return orders[0]


def _orders_transition(
    orders: list[Order],
    *,
    to: str,
    actor: Actor,
    note: str = "",
    location: Point | None = None,
    also: dict[str, Any] | None = None,
    with_writes: Sequence[lib_sql.Statement] = (),
) -> None:
    """The only writer of Order.status: every order moves to `to`, or none does.

    The caller holds the row locks. Set-based: one UPDATE, one insert of events, one of
    webhook events and one of their deliveries, however many orders move together (a dispatch
    round moves hundreds at once). `also`: other columns the same UPDATE sets (not status).
    `with_writes`: the caller's own statements, sent in the same round trip. The writes go
    out with the transaction's next statement or its COMMIT (lib_sql.run_later).
    """
    for order in orders:
        if not order.can_transition_to(to):
            raise InvalidTransition(
                f"An order that is {order.status} cannot become {to}.",
                current_status=order.status,
                extra={"order_id": str(order.public_id)},
            )
    if not orders:
        return
    now = clock.now()
    from_status = {order.id: order.status for order in orders}
    update: dict[str, Any] = {"status": to, "status_changed_at": now, "updated_at": now}
    if to == Order.Status.CANCELLED:
        update["cancel_reason"] = note[:300]
    update = {**(also or {}), **update}
    events = [
        _event(
            order,
            from_status=from_status[order.id],
            to_status=to,
            actor=actor,
            at=now,
            note=note,
            location=location,
        )
        for order in orders
    ]
    for order in orders:
        for field, value in update.items():
            setattr(order, field, value)
    # The move's own writes, sent together with its outbox rows (one round trip on PostgreSQL).
    writes = [
        lib_sql.update_statement(Order, from_status, update),
        *lib_sql.insert_statements(OrderEvent, events),
        *with_writes,
    ]
    if _is_dispatch_churn(from_status.values(), to):
        lib_sql.run_later(writes)
    else:
        _emit_many(orders, f"order.{to}", new_events=events, writes=writes)


# Offered and back to ready repeat every minute while no driver takes a trip: dispatch's own
# churn, visible in the API and the events, but not pushed to shops as webhooks.
DISPATCH_CHURN = frozenset(
    {
        (Order.Status.READY_FOR_PICKUP, Order.Status.OFFERED),
        (Order.Status.OFFERED, Order.Status.READY_FOR_PICKUP),
    }
)


def _is_dispatch_churn(from_statuses: Any, to: str) -> bool:
    return all((f, to) in DISPATCH_CHURN for f in from_statuses)


def _order_transition(
    order: Order, *, to: str, actor: Actor, note: str = "", location: Point | None = None
) -> None:
    _orders_transition([order], to=to, actor=actor, note=note, location=location)


def order_transition(
    *,
    order_id: int,
    to: str,
    actor: Actor,
    note: str = "",
    location: Point | None = None,
    expected_from: frozenset[str] | None = None,
    savepoint: bool = True,
    via: dict[str, str] | None = None,
    before_move: "BeforeMove | None" = None,
) -> Order:
    """Move an order along its lifecycle (used by dispatch for the driver's steps).

    `expected_from` narrows the allowed sources, so that a late or repeated step never moves
    an order that has already moved on. `savepoint`, `via`, `before_move`: see
    order_transition_many.
    """
    return order_transition_many(
        order_ids=[order_id],
        to=to,
        actor=actor,
        note=note,
        location=location,
        expected_from=expected_from,
        savepoint=savepoint,
        via=via,
        before_move=before_move,
    )[0]


# Called with the locked orders just before they move (their `via` steps and `expected_from`
# passed): raises to stop the move, or returns the caller's own writes, sent in the move's
# round trip.
BeforeMove = Callable[[list[Order]], Sequence[lib_sql.Statement]]


def order_transition_many(
    *,
    order_ids: list[int],
    to: str,
    actor: Actor,
    note: str = "",
    location: Point | None = None,
    expected_from: frozenset[str] | None = None,
    savepoint: bool = True,
    courier: "Courier | None" = None,
    via: dict[str, str] | None = None,
    before_move: BeforeMove | None = None,
) -> list[Order]:
    """Move several orders at once (a trip's orders); all or none. Locks in id order.

    Atomic. Inside a caller's transaction it is a savepoint, unless the caller passes
    `savepoint=False` because whatever fails here fails its whole transaction (it catches
    nothing): dispatch's trip steps, which save two round trips per move that way. A
    `courier` snapshot is written by the move's own UPDATE (as order_courier_update would,
    without its round trip), so the move's webhook already shows the driver.

    `via` {status: step}: an order found in that status moves to the step first (with its
    own event and webhook), as when a driver delivers without having said they arrived.
    `before_move`: what the caller checks of the locked orders, and its own writes (the door
    checks the proof of delivery against the order it locked, and records the stop in the
    same round trip: no read of its own, no write of its own).
    """
    with transaction.atomic(savepoint=savepoint):
        return _transition_many(
            order_ids=order_ids,
            to=to,
            actor=actor,
            note=note,
            location=location,
            expected_from=expected_from,
            also=_courier_fields(courier) if courier is not None else {},
            via=via or {},
            before_move=before_move,
        )


def _transition_many(
    *,
    order_ids: list[int],
    to: str,
    actor: Actor,
    note: str,
    location: Point | None,
    expected_from: frozenset[str] | None,
    also: dict[str, Any],
    via: dict[str, str],
    before_move: BeforeMove | None,
) -> list[Order]:
    ids = sorted(set(order_ids))
    if to == Order.Status.OFFERED:  # only from ready: dispatch's churn, no webhook to build
        orders = sql.lock_orders_light(ids)
    else:
        orders = sql.lock_orders(*lib_sql.any_of("o.id", ids))
    if len(orders) != len(ids):
        raise NotFound("No such order.")
    for order in orders:
        if order.status in via:
            _orders_transition([order], to=via[order.status], actor=actor, location=location)
    for order in orders:
        if expected_from is not None and order.status not in expected_from:
            raise InvalidTransition(
                f"An order that is {order.status} cannot become {to} here.",
                current_status=order.status,
                extra={"order_id": str(order.public_id)},
            )
    writes = before_move(orders) if before_move is not None else ()
    _orders_transition(
        orders, to=to, actor=actor, note=note, location=location, also=also, with_writes=writes
    )
    return orders


@transaction.atomic
def order_mark_ready(*, merchant: Merchant, public_id: object, actor: Actor) -> Order:
    order = _lock_for_merchant(merchant, public_id)
    _order_transition(order, to=Order.Status.READY_FOR_PICKUP, actor=actor)
    return order


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise Unprocessable("A reason is required to cancel.", code="reason_required")


@transaction.atomic
def order_cancel(*, order_id: int, actor: Actor, reason: str) -> Order:
    _require_reason(reason)
    order = _lock(order_id)
    _order_transition(order, to=Order.Status.CANCELLED, actor=actor, note=reason.strip())
    return order


@transaction.atomic
def order_cancel_for_merchant(
    *, merchant: Merchant, public_id: object, actor: Actor, reason: str
) -> Order:
    order = _lock_for_merchant(merchant, public_id)  # an unknown order is 404 before all else
    _require_reason(reason)
    _order_transition(order, to=Order.Status.CANCELLED, actor=actor, note=reason.strip())
    return order


TIP_CLOSED = frozenset({Order.Status.CANCELLED, Order.Status.RETURNED_TO_STORE})


@transaction.atomic
def order_tip_raise(
    *, merchant: Merchant, public_id: object, tip_cents: int, actor: Actor
) -> Order:
    """The shop may raise a tip at any time before the order is closed; never lower it here.

    A lower tip after acceptance needs an ops review (payouts), so the API refuses it.
    """
    order = _lock_for_merchant(merchant, public_id)
    if order.status in TIP_CLOSED:
        raise InvalidTransition(
            f"An order that is {order.status} cannot take a tip.", current_status=order.status
        )
    if tip_cents < order.tip_cents:
        raise Unprocessable(
            f"A tip can only be raised (it is {order.tip_cents} cents).",
            code="tip_decrease_not_allowed",
            extra={"tip_cents": order.tip_cents},
        )
    if tip_cents == order.tip_cents:
        return order
    previous, order.tip_cents = order.tip_cents, tip_cents
    order.save(update_fields=["tip_cents", "updated_at"])
    _event_write(
        order,
        from_status=order.status,
        to_status=order.status,
        actor=actor,
        at=clock.now(),
        kind="tip_changed",
        note=f"tip {previous} -> {tip_cents} cents",
    )
    _emit_many([order], "order.tip_changed")
    return order


@transaction.atomic
def order_tip_set_after_review(
    *, order_id: int, tip_cents: int, actor: Actor, reason: str
) -> Order:
    """Set a tip that ops reviewed (payouts' tip review: the only way a tip goes down).

    Writes the tip_changed event with the review's reason and tells the shop, as a raise does.
    """
    if not reason.strip():
        raise Unprocessable("A reason is required to change a tip.", code="reason_required")
    if tip_cents < 0:
        raise Unprocessable("A tip cannot be negative.", code="tip_negative")
    order = _lock(order_id)
    if order.status in TIP_CLOSED:
        raise InvalidTransition(
            f"An order that is {order.status} cannot take a tip.", current_status=order.status
        )
    if tip_cents == order.tip_cents:
        return order
    previous, order.tip_cents = order.tip_cents, tip_cents
    order.save(update_fields=["tip_cents", "updated_at"])
    _event_write(
        order,
        from_status=order.status,
        to_status=order.status,
        actor=actor,
        at=clock.now(),
        kind="tip_changed",
        note=f"tip {previous} -> {tip_cents} cents after review: {reason.strip()}",
    )
    _emit_many([order], "order.tip_changed")
    return order


@dataclass(frozen=True)
class Courier:
    """What the store and the customer may know of the driver: a first name and the car."""

    name: str = ""
    vehicle: str = ""
    lat: float | None = None
    lng: float | None = None
    located_at: datetime | None = None
    pickup_eta: datetime | None = None
    dropoff_eta: datetime | None = None


def order_courier_update(*, order_ids: list[int], courier: Courier | None) -> int:
    """Dispatch tells orders who carries them and where they are (None: nobody now).

    Not a status change, so no event row; the board and the tracking page read it.
    """
    statement = order_courier_statement(order_ids=order_ids, courier=courier)
    return lib_sql.run([statement]) if statement else 0


def order_courier_statement(
    *, order_ids: list[int], courier: Courier | None
) -> lib_sql.Statement | None:
    """order_courier_update's statement, not yet sent: for a caller that sends it with its
    own writes (a trip step, with the move of one of the orders: BeforeMove's writes)."""
    if not order_ids:
        return None
    return lib_sql.update_statement(Order, order_ids, _courier_fields(courier))


def _courier_fields(courier: Courier | None) -> dict[str, Any]:
    """The order columns a courier snapshot sets (None: nobody carries the order now)."""
    c = courier or Courier()
    fields: dict[str, Any] = {
        "courier_lat": c.lat,
        "courier_lng": c.lng,
        "courier_located_at": c.located_at,
    }
    if courier is None or c.name:
        fields |= {"courier_name": c.name[:60], "courier_vehicle": c.vehicle[:80]}
    if courier is None or c.pickup_eta or c.dropoff_eta:
        fields |= {"pickup_eta": c.pickup_eta, "dropoff_eta": c.dropoff_eta}
    if courier is not None and c.lat is None:
        for name in ("courier_lat", "courier_lng", "courier_located_at"):
            fields.pop(name)
    return fields
