"""Scheduled blocks (Amazon Flex style): publish, request, lottery, release, no-shows, completion.

Reservations open at an announced time. Requests in the lottery window (the first minute) carry
a weight and are drawn together when it closes, by a seeded weighted draw without replacement
that visits entrants by driver id: tapping first gains nothing. Later requests are first come,
first served while places remain.

Capacity holds under any concurrency: every change to a block's reservations locks the Block
row first and counts its reserved rows inside the lock. A driver holds at most one live
(requested or reserved) row over any stretch of time: a driver's requests are serialised by a
transaction-scoped advisory lock, always taken before the block's row lock (one lock order, no
deadlock). The lottery never needs it: a requested row was checked for overlaps when it was
made, and no overlapping live row can appear while it lives.
"""

import hashlib
import math
import random
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.template.loader import render_to_string

from dispatch import selectors_blocks, tasks_blocks
from dispatch.models import Block, BlockReservation, DispatchEvent, DriverAvailability, Trip
from dispatch.services.availability import NotEligible
from dispatch.services.events import dispatch_event
from drivers import selectors as driver_selectors
from orders import selectors as order_selectors
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.db import one_or_none
from spark.lib.errors import (
    ConcurrentRequest,
    Conflict,
    InvalidTransition,
    NotFound,
    Unprocessable,
)
from spark.lib.money import format_cents

R = BlockReservation.Status
SYSTEM = Actor.system("blocks")
MAX_BLOCK_HOURS = 12
MIN_WEIGHT = 1e-6
NOTICES = {  # e-mail kind -> the status the reservation must still have
    "reserved": R.RESERVED,
    "lost": R.LOST,
    "released": R.RELEASED,
    "forfeited": R.FORFEITED,
    "cancelled": R.RELEASED,
}


class InvalidBlock(Unprocessable):
    code = "invalid_block"


class BlockNotOpenYet(Conflict):
    code = "not_open_yet"


class BlockFull(Conflict):
    code = "block_full"


class BlockClosed(Conflict):
    code = "block_closed"


class BlockOverlap(Conflict):
    code = "block_overlap"


class LotteryNotDue(Conflict):
    code = "lottery_not_due"


# --- transitions --------------------------------------------------------------------------


def _event(
    entity: str, entity_id: int, from_status: str, to: str, actor: Actor, at: datetime, note: str
) -> DispatchEvent:
    return dispatch_event(
        entity=entity,
        entity_id=entity_id,
        trip_id=None,
        from_status=from_status,
        to_status=to,
        actor=actor,
        at=at,
        note=note[:1000],
    )


def _block_transition(block: Block, *, to: str, actor: Actor, at: datetime, note: str = "") -> None:
    if to not in Block.TRANSITIONS[block.status]:
        raise InvalidTransition(
            f"Block {block.id}: {block.status} -> {to}", current_status=block.status
        )
    _event(DispatchEvent.Entity.BLOCK, block.id, block.status, to, actor, at, note).save()
    block.status = to
    block.save(update_fields=["status", "updated_at"])


def _reservations_transition(
    rows: list[BlockReservation],
    *,
    to: str,
    actor: Actor,
    at: datetime,
    note: str = "",
    **fields: Any,
) -> None:
    """The one writer of reservation status: checks each edge, updates the (locked) rows and
    appends one DispatchEvent per row, in the caller's transaction."""
    for row in rows:
        if to not in BlockReservation.TRANSITIONS[row.status]:
            raise InvalidTransition(
                f"Reservation {row.id}: {row.status} -> {to}", current_status=row.status
            )
    events = []
    for from_status in {r.status for r in rows}:
        ids = [r.id for r in rows if r.status == from_status]
        changed = BlockReservation.objects.filter(id__in=ids, status=from_status).update(
            status=to, updated_at=at, **fields
        )
        if changed != len(ids):  # the caller locks the rows: a bug, never a race
            raise ConcurrentRequest(f"Reservations changed under us: {ids}")
        events += [
            _event(DispatchEvent.Entity.RESERVATION, i, from_status, to, actor, at, note)
            for i in ids
        ]
    DispatchEvent.objects.bulk_create(events)
    for row in rows:
        row.status = to
        for name, value in fields.items():
            setattr(row, name, value)


def _reservation_create(
    block: Block,
    driver_id: int,
    *,
    status: str,
    actor: Actor,
    at: datetime,
    note: str,
    **fields: Any,
) -> BlockReservation:
    row = BlockReservation.objects.create(
        block=block, driver_id=driver_id, status=status, requested_at=at, **fields
    )
    _event(DispatchEvent.Entity.RESERVATION, row.id, "", status, actor, at, note).save()
    return row


def _notify(rows: Iterable[BlockReservation], kind: str) -> None:
    for row in rows:
        tasks_blocks.block_reservation_notify.delay_on_commit(row.id, kind)


def _lock_block(block_id: int) -> Block:
    block = one_or_none(Block.objects.select_for_update().filter(id=block_id))
    if block is None:
        raise NotFound("No such block.")
    return block


def _lock_driver(driver_id: int) -> None:
    """Serialise one driver's requests (PostgreSQL; SQLite serialises every write anyway)."""
    if connection.vendor != "postgresql":
        return
    name = f"spark:blocks:driver:{driver_id}".encode()
    key = int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _open_if_due(block: Block, *, actor: Actor, at: datetime) -> None:
    if block.status == Block.Status.SCHEDULED and at >= block.opens_at:
        _block_transition(block, to=Block.Status.OPEN, actor=actor, at=at)


# --- ops: publish and cancel --------------------------------------------------------------


def block_validate(
    *,
    now: datetime,
    starts_at: datetime,
    ends_at: datetime,
    opens_at: datetime,
    capacity: int,
    guaranteed_pay_cents: int,
    lottery_window_seconds: int = 60,
    forfeit_cutoff_minutes: int = 45,
) -> None:
    """The publishing rules: raises InvalidBlock naming the first field that breaks one (the
    admin's publish form asks the same question before saving)."""
    if None in (starts_at.tzinfo, ends_at.tzinfo, opens_at.tzinfo):
        raise InvalidBlock("Times must carry a time zone.", extra={"field": "starts_at"})
    rules = [
        ("starts_at", starts_at <= now, "A block cannot start in the past."),
        ("ends_at", ends_at <= starts_at, "A block must end after it starts."),
        (
            "ends_at",
            ends_at - starts_at > timedelta(hours=MAX_BLOCK_HOURS),
            f"A block lasts at most {MAX_BLOCK_HOURS} hours.",
        ),
        ("opens_at", opens_at >= starts_at, "Reservations must open before the block starts."),
        (
            "opens_at",
            opens_at < now - timedelta(minutes=1),
            "Reservations cannot open in the past.",
        ),
        ("capacity", capacity <= 0, "Capacity must be at least 1."),
        ("guaranteed_pay_cents", guaranteed_pay_cents < 0, "The guarantee cannot be negative."),
        (
            "lottery_window_seconds",
            not 0 <= lottery_window_seconds <= 3600,
            "The lottery window is 0 to 3600 seconds.",
        ),
        ("forfeit_cutoff_minutes", forfeit_cutoff_minutes < 0, "The cutoff cannot be negative."),
    ]
    for field, broken, message in rules:
        if broken:
            raise InvalidBlock(message, extra={"field": field})


@transaction.atomic
def block_publish(
    *,
    market_id: int,
    starts_at: datetime,
    ends_at: datetime,
    guaranteed_pay_cents: int,
    capacity: int,
    actor: Actor,
    store_id: int | None = None,
    opens_at: datetime | None = None,
    lottery_window_seconds: int = 60,
    forfeit_cutoff_minutes: int = 45,
) -> Block:
    """Publish a block; reservations open at `opens_at` (default: now). The lottery's seed is
    drawn here, from `secrets`, and is only shown once the lottery is drawn."""
    now = clock.now()
    opens_at = opens_at or now
    block_validate(
        now=now,
        starts_at=starts_at,
        ends_at=ends_at,
        opens_at=opens_at,
        capacity=capacity,
        guaranteed_pay_cents=guaranteed_pay_cents,
        lottery_window_seconds=lottery_window_seconds,
        forfeit_cutoff_minutes=forfeit_cutoff_minutes,
    )
    market = order_selectors.market_get(market_id=market_id)
    block = Block(
        market_id=market.id,
        store_id=store_id,
        starts_at=starts_at,
        ends_at=ends_at,
        opens_at=opens_at,
        guaranteed_pay_cents=guaranteed_pay_cents,
        currency=market.currency,
        capacity=capacity,
        lottery_window_seconds=lottery_window_seconds,
        lottery_seed=secrets.randbits(62),
        forfeit_cutoff_minutes=forfeit_cutoff_minutes,
        status=Block.Status.SCHEDULED,
    )
    if store_id is not None and _store_market_id(block) != market.id:
        raise InvalidBlock("That store is not in this market.", extra={"field": "store"})
    block.save()
    _event(DispatchEvent.Entity.BLOCK, block.id, "", block.status, actor, now, "").save()
    _open_if_due(block, actor=actor, at=now)
    return block


def _store_market_id(block: Block) -> int | None:
    try:
        return block.store.market_id  # type: ignore[union-attr]
    except ObjectDoesNotExist:
        return None


@transaction.atomic
def block_cancel(*, block_id: int, actor: Actor, reason: str) -> Block:
    """Cancel a block that has not started: its requests and reservations are released (no
    forfeit), and the drivers are e-mailed after commit."""
    reason = reason.strip()
    if not reason:
        raise Unprocessable("Say why the block is cancelled.", code="reason_required")
    block = _lock_block(block_id)
    now = clock.now()
    if block.status != Block.Status.CANCELLED and now >= block.starts_at:
        raise BlockClosed("A block that has started cannot be cancelled.", code="block_started")
    live = list(block.reservations.select_for_update().filter(status__in=BlockReservation.LIVE))
    _block_transition(block, to=Block.Status.CANCELLED, actor=actor, at=now, note=reason)
    _reservations_transition(
        live, to=R.RELEASED, actor=actor, at=now, note=f"The block was cancelled: {reason}"
    )
    _notify(live, "cancelled")
    return block


# --- drivers: request and release ---------------------------------------------------------


def block_request(*, block_id: int, driver_id: int, actor: Actor) -> BlockReservation:
    """Ask for a place. In the lottery window: a `requested` row with its weight, drawn when
    the window closes. After it: a reservation if a place is left, else BlockFull. A second
    tap returns the live row it already has."""
    _draw_if_due(block_id)  # committed first: a late request never jumps the lottery
    return _block_request(block_id=block_id, driver_id=driver_id, actor=actor)


def _draw_if_due(block_id: int) -> None:
    block = one_or_none(Block.objects.filter(id=block_id))
    if (
        block is not None
        and block.lottery_drawn_at is None
        and block.status != Block.Status.CANCELLED
        and clock.now() >= block.lottery_closes_at
    ):
        block_lottery_draw(block_id=block_id, actor=SYSTEM)


@transaction.atomic
def _block_request(*, block_id: int, driver_id: int, actor: Actor) -> BlockReservation:
    _lock_driver(driver_id)
    block = _lock_block(block_id)
    now = clock.now()  # after the locks: what we decide must hold at commit
    _check_can_request(block, driver_id, now)
    row = one_or_none(
        BlockReservation.objects.select_for_update().filter(block=block, driver_id=driver_id)
    )
    if row is not None and row.status in BlockReservation.LIVE:
        return row
    if row is not None and row.status in (R.FORFEITED, R.COMPLETED):
        raise BlockClosed("You forfeited this block; it cannot be requested again.")
    _check_no_overlap(block, driver_id)
    _open_if_due(block, actor=actor, at=now)
    if now < block.lottery_closes_at and block.lottery_drawn_at is None:
        return _enter_lottery(block, row, driver_id, actor=actor, at=now)
    return _reserve_first_come(block, row, driver_id, actor=actor, at=now)


def _check_can_request(block: Block, driver_id: int, now: datetime) -> None:
    profile = driver_selectors.driver_get_dispatch_profile(driver_id=driver_id)
    if profile.home_market_id != block.market_id:
        raise NotFound("No such block.")
    if not driver_selectors.driver_can_go_online(driver_id=driver_id):
        raise NotEligible(
            "Only approved drivers whose documents are approved and current can reserve blocks."
        )
    if block.status == Block.Status.CANCELLED:
        raise BlockClosed("This block was cancelled.")
    if now >= block.starts_at:
        raise BlockClosed("This block has already started.", code="block_started")
    if now < block.opens_at:
        raise BlockNotOpenYet(
            "Reservations for this block are not open yet.",
            extra={"opens_at": block.opens_at.isoformat()},
        )


def _check_no_overlap(block: Block, driver_id: int) -> None:
    overlapping = (
        BlockReservation.objects.filter(
            driver_id=driver_id,
            status__in=BlockReservation.LIVE,
            block__starts_at__lt=block.ends_at,
            block__ends_at__gt=block.starts_at,
        )
        .exclude(block_id=block.id)
        .first()
    )
    if overlapping is not None:
        raise BlockOverlap(
            "You already have a block (or a request) at that time.",
            extra={"reservation_id": overlapping.id},
        )


def _enter_lottery(
    block: Block, row: BlockReservation | None, driver_id: int, *, actor: Actor, at: datetime
) -> BlockReservation:
    market = order_selectors.market_get(market_id=block.market_id)
    standing = selectors_blocks.driver_block_standing(
        driver_id=driver_id, tz=market.timezone, now=at
    )
    weight = standing.weight
    note = (
        f"In the lottery with weight {weight:.3f} ({standing.hours_this_week:g} h this week, "
        f"{standing.forfeits} recent forfeits)."
    )
    if row is None:
        return _reservation_create(
            block,
            driver_id,
            status=R.REQUESTED,
            actor=actor,
            at=at,
            note=note,
            lottery_weight=weight,
        )
    _reservations_transition(
        [row], to=R.REQUESTED, actor=actor, at=at, note=note, lottery_weight=weight, requested_at=at
    )
    return row


def _reserve_first_come(
    block: Block, row: BlockReservation | None, driver_id: int, *, actor: Actor, at: datetime
) -> BlockReservation:
    reserved = block.reservations.filter(status=R.RESERVED).count()  # inside the block's lock
    if reserved >= block.capacity:
        raise BlockFull("This block is full.", extra={"capacity": block.capacity})
    note = f"First come, first served: place {reserved + 1} of {block.capacity}."
    if row is None:
        row = _reservation_create(
            block, driver_id, status=R.RESERVED, actor=actor, at=at, note=note, decided_at=at
        )
    else:
        _reservations_transition(
            [row], to=R.RESERVED, actor=actor, at=at, note=note, decided_at=at, requested_at=at
        )
    _notify([row], "reserved")
    return row


@transaction.atomic
def block_release(*, reservation_id: int, driver_id: int, actor: Actor) -> BlockReservation:
    """Give a place back. A request before the draw, or a reservation before the forfeit
    cutoff, is released; a reservation later than the cutoff is forfeited."""
    block_id = (
        BlockReservation.objects.filter(id=reservation_id, driver_id=driver_id)
        .values_list("block_id", flat=True)
        .first()
    )
    if block_id is None:
        raise NotFound("No such reservation.")
    block = _lock_block(block_id)
    row = BlockReservation.objects.select_for_update().get(id=reservation_id)
    now = clock.now()
    to, note = _release_outcome(block, row, now)
    _reservations_transition([row], to=to, actor=actor, at=now, note=note)
    _notify([row], "forfeited" if to == R.FORFEITED else "released")
    return row


def _release_outcome(block: Block, row: BlockReservation, now: datetime) -> tuple[str, str]:
    if row.status == R.REQUESTED:
        return R.RELEASED, "Request withdrawn before the lottery."
    if row.status != R.RESERVED:
        raise InvalidTransition(
            f"A {row.status} reservation cannot be released.", current_status=row.status
        )
    cutoff = block.forfeit_cutoff_minutes
    if now >= block.starts_at:
        return R.FORFEITED, "Released after the block had started."
    minutes = int((block.starts_at - now).total_seconds() // 60)
    if now >= block.forfeit_after:
        return R.FORFEITED, (
            f"Released {minutes} min before the start, later than the {cutoff}-minute cutoff."
        )
    return R.RELEASED, f"Released {minutes} min before the start, in time (cutoff {cutoff} min)."


# --- the lottery --------------------------------------------------------------------------


def draw_winners(*, weights: Mapping[int, float], seed: int, places: int) -> list[int]:
    """Weighted sampling without replacement (Efraimidis-Spirakis): each entrant draws u in
    (0, 1] and the `places` largest keys log(u) / weight win. Entrants are visited in driver id
    order, never in arrival order, so when a request came in cannot matter; the seed makes the
    draw repeatable by anyone who has the weights."""
    rng = random.Random(seed)  # noqa: S311 (reproducible by design; the seed comes from secrets)
    keys = []
    for driver_id in sorted(weights):
        u = 1.0 - rng.random()
        keys.append((math.log(u) / max(weights[driver_id], MIN_WEIGHT), driver_id))
    keys.sort(key=lambda key: (-key[0], key[1]))
    return [driver_id for _, driver_id in keys[: max(places, 0)]]


@transaction.atomic
def block_lottery_draw(*, block_id: int, actor: Actor) -> Block:
    """Draw the lottery once its window has closed (idempotent: a drawn block is returned as
    is). Winners up to the places left are reserved, the others lose; all are e-mailed."""
    block = _lock_block(block_id)
    if block.lottery_drawn_at is not None or block.status == Block.Status.CANCELLED:
        return block
    now = clock.now()
    if now < block.lottery_closes_at:
        raise LotteryNotDue(
            "The lottery window is still open.",
            extra={"closes_at": block.lottery_closes_at.isoformat()},
        )
    _open_if_due(block, actor=actor, at=now)
    entrants = list(block.reservations.select_for_update().filter(status=R.REQUESTED))
    places = block.capacity - block.reservations.filter(status=R.RESERVED).count()
    weights = {r.driver_id: r.lottery_weight for r in entrants}
    winners = set(draw_winners(weights=weights, seed=block.lottery_seed, places=places))
    won = [r for r in entrants if r.driver_id in winners]
    lost = [r for r in entrants if r.driver_id not in winners]
    summary = f"{_count(len(entrants), 'request')} for {_count(max(places, 0), 'place')}"
    _reservations_transition(
        won,
        to=R.RESERVED,
        actor=actor,
        at=now,
        note=f"Drawn in the lottery ({summary}).",
        decided_at=now,
    )
    _reservations_transition(
        lost,
        to=R.LOST,
        actor=actor,
        at=now,
        note=f"Not drawn in the lottery ({summary}).",
        decided_at=now,
    )
    block.lottery_drawn_at = now
    block.save(update_fields=["lottery_drawn_at", "updated_at"])
    _notify(won, "reserved")
    _notify(lost, "lost")
    return block


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- the sweep (Celery beat, every 15 s) --------------------------------------------------


def blocks_open_due() -> int:
    now = clock.now()
    ids = list(
        Block.objects.filter(status=Block.Status.SCHEDULED, opens_at__lte=now).values_list(
            "id", flat=True
        )[:500]
    )
    for block_id in ids:
        with transaction.atomic():
            _open_if_due(_lock_block(block_id), actor=SYSTEM, at=clock.now())
    return len(ids)


def blocks_draw_due() -> int:
    now = clock.now()
    candidates = Block.objects.filter(
        lottery_drawn_at__isnull=True,
        status__in=[Block.Status.SCHEDULED, Block.Status.OPEN],
        opens_at__lte=now,
    ).order_by("opens_at")[:500]
    due = [b.id for b in candidates if now >= b.lottery_closes_at]
    for block_id in due:
        block_lottery_draw(block_id=block_id, actor=SYSTEM)
    return len(due)


def blocks_check_in() -> int:
    """Mark reserved drivers of running blocks who are online in the block's market (or took
    a trip since it started) as checked in: no-shows and completion read it."""
    now = clock.now()
    online = DriverAvailability.objects.filter(
        driver_id=OuterRef("driver_id"), is_online=True, market_id=OuterRef("block__market_id")
    )
    on_trip = Trip.objects.filter(
        driver_id=OuterRef("driver_id"), assigned_at__gte=OuterRef("block__starts_at")
    )
    ids = list(
        BlockReservation.objects.filter(
            Q(Exists(online)) | Q(Exists(on_trip)),
            status=R.RESERVED,
            checked_in_at__isnull=True,
            block__starts_at__lte=now,
            block__ends_at__gt=now,
        ).values_list("id", flat=True)[:5000]
    )
    return BlockReservation.objects.filter(id__in=ids, checked_in_at__isnull=True).update(
        checked_in_at=now, updated_at=now
    )


def blocks_link_trips() -> int:
    """Link trips taken during a block to the driver's reservation, so that payouts counts
    their pay towards the guarantee (earnings copy the link when a trip is posted; trips take
    minutes, the sweep runs every 15 s)."""
    now = clock.now()
    held = BlockReservation.objects.filter(
        driver_id=OuterRef("driver_id"),
        status__in=[R.RESERVED, R.COMPLETED],
        block__starts_at__lte=OuterRef("assigned_at"),
        block__ends_at__gt=OuterRef("assigned_at"),
    ).values("id")[:1]
    return (
        Trip.objects.filter(
            block_reservation__isnull=True,
            driver__isnull=False,
            assigned_at__gte=now - timedelta(hours=MAX_BLOCK_HOURS + 1),
        )
        .filter(Exists(held))
        .update(block_reservation_id=Subquery(held), updated_at=now)
    )


def _settle(block_id: int, *, due: Q, decide: Any) -> int:
    """Lock a block, then move its due reserved rows to what `decide(row)` says."""
    with transaction.atomic():
        block = _lock_block(block_id)
        rows = list(block.reservations.select_for_update().filter(due, status=R.RESERVED))
        now = clock.now()
        outcomes: dict[tuple[str, str], list[BlockReservation]] = {}
        for row in rows:
            outcomes.setdefault(decide(block, row), []).append(row)
        for (to, note), group in outcomes.items():
            _reservations_transition(group, to=to, actor=SYSTEM, at=now, note=note)
            if to == R.FORFEITED:
                _notify(group, "forfeited")
    return len(rows)


def blocks_mark_no_shows() -> int:
    """A reserved driver not checked in N minutes after the start forfeits the block."""
    minutes = settings.BLOCKS_NO_SHOW_MINUTES
    late = clock.now() - timedelta(minutes=minutes)
    due = Q(checked_in_at__isnull=True, block__starts_at__lte=late)
    block_ids = _blocks_with(due)
    note = f"Not online within {minutes} minutes of the start."
    return sum(
        _settle(b, due=due, decide=lambda _block, _row: (R.FORFEITED, note)) for b in block_ids
    )


def blocks_complete() -> int:
    """After a block ends, a reservation whose driver checked in is completed (payouts tops it
    up to the guarantee); one who never did forfeits it."""
    due = Q(block__ends_at__lte=clock.now())

    def decide(block: Block, row: BlockReservation) -> tuple[str, str]:
        if row.checked_in_at is None:
            return R.FORFEITED, "Not online during the block."
        pay = format_cents(block.guaranteed_pay_cents, block.currency)
        return R.COMPLETED, f"Block worked: paid at least the {pay} guarantee."

    return sum(_settle(b, due=due, decide=decide) for b in _blocks_with(due))


def _blocks_with(due: Q) -> list[int]:
    qs = BlockReservation.objects.filter(due, status=R.RESERVED).values_list("block_id", flat=True)
    return sorted(set(qs[:5000]))


def blocks_sweep() -> dict[str, int]:
    """Everything time-driven, in order: open, draw, check in, link trips, no-shows, completion."""
    return {
        "opened": blocks_open_due(),
        "drawn": blocks_draw_due(),
        "checked_in": blocks_check_in(),
        "trips_linked": blocks_link_trips(),
        "no_shows": blocks_mark_no_shows(),
        "completed": blocks_complete(),
    }


# --- e-mail -------------------------------------------------------------------------------


def block_reservation_notify(*, reservation_id: int, kind: str) -> bool:
    """E-mail a driver about their reservation, at most once per kind: claimed in the cache
    before the send and given back if the send fails, so the task's retry tries again. Nothing
    is sent if the reservation has moved on since (a stale 'reserved' after a release)."""
    row = one_or_none(
        BlockReservation.objects.select_related("block__market", "block__store").filter(
            id=reservation_id
        )
    )
    if row is None or row.status != NOTICES[kind]:
        return False
    driver = driver_selectors.driver_get(driver_id=row.driver_id)
    if not driver.user.email:
        return False
    key = f"spark:blocks:notified:{row.block.public_id}:{reservation_id}:{kind}"
    if not cache.add(key, 1, timeout=14 * 24 * 3600):
        return False
    try:
        _send(row, driver, kind)
    except Exception:
        cache.delete(key)
        raise
    return True


def _send(row: BlockReservation, driver: Any, kind: str) -> None:
    events = selectors_blocks.block_reservation_events(reservation_id=row.id)
    last = events.last()
    context = {
        "reservation": row,
        "block": row.block,
        "driver": driver,
        "why": last.note if last else "",
        "pay": format_cents(row.block.guaranteed_pay_cents, row.block.currency),
        "tz": row.block.market.timezone,
        "site_url": settings.SITE_URL,
        "no_show_minutes": settings.BLOCKS_NO_SHOW_MINUTES,
    }
    text = render_to_string(f"dispatch/blocks/email/{kind}.txt", context)
    subject, _, body = text.strip().partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", None, [driver.user.email])
