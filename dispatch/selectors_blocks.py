"""Reads of scheduled blocks: a driver's standing (the lottery weight), the portal's cards and
lists, and the admin's counts. A driver's reads are scoped to their market and their own
reservations; anybody else's row is NotFound (BOLA: 404, never 403)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum

from dispatch.models import Block, BlockReservation, DispatchEvent, Trip
from spark.lib.db import one_or_none
from spark.lib.errors import NotFound
from spark.lib.money import cents_per_unit, format_cents

R = BlockReservation.Status

# The lottery's weight: fewer hours this week, better odds (a driver with 40 hours has a fifth
# of the chance of one with none), and each forfeit of the last 30 days halves it.
WEIGHT_HOURS_SCALE = 10.0
FORFEIT_LOOKBACK = timedelta(days=30)
FORFEIT_FACTOR = 0.5


def lottery_weight(*, hours: float, forfeits: int) -> float:
    return round(1.0 / (1.0 + max(hours, 0.0) / WEIGHT_HOURS_SCALE) * FORFEIT_FACTOR**forfeits, 6)


def week_start(*, now: datetime, tz: str) -> datetime:
    """Monday 00:00 of `now`'s week in the market's time zone."""
    local = now.astimezone(ZoneInfo(tz))
    monday = local - timedelta(days=local.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Standing:
    hours_this_week: float
    forfeits: int  # in the last 30 days

    @property
    def weight(self) -> float:
        return lottery_weight(hours=self.hours_this_week, forfeits=self.forfeits)


def driver_block_standing(*, driver_id: int, tz: str, now: datetime) -> Standing:
    """Hours worked this week (engaged time of completed trips, accepted to completed) and
    recent forfeits: what the lottery weight is made of."""
    engaged = ExpressionWrapper(F("completed_at") - F("assigned_at"), output_field=DurationField())
    total = Trip.objects.filter(
        driver_id=driver_id,
        status=Trip.Status.COMPLETED,
        completed_at__gte=week_start(now=now, tz=tz),
        completed_at__lte=now,
        assigned_at__isnull=False,
    ).aggregate(total=Sum(engaged))["total"]
    forfeits = BlockReservation.objects.filter(
        driver_id=driver_id, status=R.FORFEITED, block__starts_at__gte=now - FORFEIT_LOOKBACK
    ).count()
    hours = total.total_seconds() / 3600 if total else 0.0
    return Standing(hours_this_week=round(hours, 2), forfeits=forfeits)


# --- the portal ---------------------------------------------------------------------------


def block_phase(block: Block, *, now: datetime, reserved: int) -> str:
    """Where a block stands for someone who wants it."""
    if block.status == Block.Status.CANCELLED:
        return "cancelled"
    if now >= block.ends_at:
        return "ended"
    if now >= block.starts_at:
        return "started"
    if now < block.opens_at:
        return "announced"
    if now < block.lottery_closes_at and block.lottery_drawn_at is None:
        return "lottery"
    return "full" if reserved >= block.capacity else "first_come"


@dataclass(frozen=True)
class BlockCard:
    """A block as a driver sees it, with their own reservation if they have one."""

    block: Block
    reserved: int
    requested: int
    mine: BlockReservation | None
    now: datetime

    @property
    def phase(self) -> str:
        return block_phase(self.block, now=self.now, reserved=self.reserved)

    @property
    def places_left(self) -> int:
        return max(self.block.capacity - self.reserved, 0)

    @property
    def pay(self) -> str:
        return format_cents(self.block.guaranteed_pay_cents, self.block.currency)

    @property
    def per_hour(self) -> str:
        cents = cents_per_unit(self.block.guaranteed_pay_cents, self.block.hours)
        return format_cents(cents, self.block.currency)

    @property
    def hours(self) -> str:
        return f"{self.block.hours:g} h"

    @property
    def can_request(self) -> bool:
        mine = self.mine.status if self.mine else None
        if mine in BlockReservation.LIVE or mine in (R.FORFEITED, R.COMPLETED):
            return False
        return self.phase in ("lottery", "first_come")

    @property
    def release_is_forfeit(self) -> bool:
        return self.now >= self.block.forfeit_after

    @property
    def check_in_by(self) -> datetime:
        return self.block.starts_at + timedelta(minutes=settings.BLOCKS_NO_SHOW_MINUTES)


def _with_counts(qs: QuerySet[Block]) -> QuerySet[Block]:
    return qs.annotate(
        reserved_count=Count("reservations", filter=Q(reservations__status=R.RESERVED)),
        requested_count=Count("reservations", filter=Q(reservations__status=R.REQUESTED)),
    )


def _cards(blocks: list[Any], *, driver_id: int, now: datetime) -> list[BlockCard]:
    mine = {
        r.block_id: r
        for r in BlockReservation.objects.filter(
            driver_id=driver_id, block_id__in=[b.id for b in blocks]
        )
    }
    return [
        BlockCard(
            block=b,
            reserved=b.reserved_count,
            requested=b.requested_count,
            mine=mine.get(b.id),
            now=now,
        )
        for b in blocks
    ]


def block_cards_upcoming(*, driver_id: int, market_id: int, now: datetime) -> list[BlockCard]:
    """The market's blocks that have not started and are not cancelled, soonest first."""
    qs = Block.objects.filter(
        market_id=market_id,
        starts_at__gt=now,
        status__in=[Block.Status.SCHEDULED, Block.Status.OPEN],
    ).select_related("store", "market")
    blocks = list(_with_counts(qs).order_by("starts_at", "id")[:200])
    return _cards(blocks, driver_id=driver_id, now=now)


def block_card_for_driver(
    *, driver_id: int, market_id: int, public_id: Any, now: datetime
) -> BlockCard:
    """One block of the driver's market (any status); NotFound for another market's."""
    qs = Block.objects.filter(public_id=public_id, market_id=market_id)
    block = one_or_none(_with_counts(qs.select_related("store", "market")))
    if block is None:
        raise NotFound("No such block.")
    return _cards([block], driver_id=driver_id, now=now)[0]


@dataclass(frozen=True)
class ReservationRow:
    reservation: BlockReservation
    why: str  # the note of its last status change: why it was lost, forfeited, released
    now: datetime

    @property
    def card(self) -> BlockCard:
        block = self.reservation.block
        return BlockCard(block=block, reserved=0, requested=0, mine=self.reservation, now=self.now)

    @property
    def is_upcoming(self) -> bool:
        return self.reservation.block.ends_at > self.now


def _last_notes(ids: list[int]) -> dict[int, str]:
    events = DispatchEvent.objects.filter(
        entity=DispatchEvent.Entity.RESERVATION, entity_id__in=ids
    ).order_by("entity_id", "-at", "-id")
    notes: dict[int, str] = {}
    for event in events.only("entity_id", "note"):
        notes.setdefault(event.entity_id, event.note)
    return notes


def block_reservation_list_for_driver(
    *, driver_id: int, now: datetime, limit: int = 50
) -> list[ReservationRow]:
    """The driver's reservations, upcoming first (soonest first), then the past (latest first)."""
    qs = BlockReservation.objects.filter(driver_id=driver_id).select_related(
        "block__store", "block__market"
    )
    upcoming = list(qs.filter(block__ends_at__gt=now).order_by("block__starts_at", "id")[:limit])
    past = list(qs.filter(block__ends_at__lte=now).order_by("-block__starts_at", "-id")[:limit])
    rows = upcoming + past
    notes = _last_notes([r.id for r in rows])
    return [ReservationRow(reservation=r, why=notes.get(r.id, ""), now=now) for r in rows]


def block_reservation_get_for_driver(
    *, driver_id: int, reservation_id: int, now: datetime
) -> ReservationRow:
    row = one_or_none(
        BlockReservation.objects.filter(id=reservation_id, driver_id=driver_id).select_related(
            "block__store", "block__market"
        )
    )
    if row is None:
        raise NotFound("No such reservation.")
    return ReservationRow(reservation=row, why=_last_notes([row.id]).get(row.id, ""), now=now)


def block_reservation_events(*, reservation_id: int) -> QuerySet[DispatchEvent]:
    return DispatchEvent.objects.filter(
        entity=DispatchEvent.Entity.RESERVATION, entity_id=reservation_id
    ).order_by("at", "id")


# --- ops ----------------------------------------------------------------------------------


def block_list_with_counts() -> QuerySet[Block]:
    return _with_counts(Block.objects.select_related("market", "store"))


def block_events(*, block_id: int) -> QuerySet[DispatchEvent]:
    return DispatchEvent.objects.filter(entity=DispatchEvent.Entity.BLOCK, entity_id=block_id)
