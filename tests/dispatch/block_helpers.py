"""Helpers shared by the block tests (tests/dispatch/test_block_*.py)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch import services
from dispatch.models import Block, BlockReservation, DispatchEvent, Trip
from spark.lib.actors import Actor

pytestmark = pytest.mark.django_db

R = BlockReservation.Status
OPS = Actor.system("ops-test")
ME = Actor.system("driver-test")
MAX_CONNECTIONS_IN_FLIGHT = 25  # the test server allows 100 connections, shared


def _wednesday_noon() -> datetime:
    """Noon on Wednesday of this week in Nashville: trips 'this week' never cross a Monday."""
    local = datetime.now(ZoneInfo("America/Chicago"))
    wednesday = local + timedelta(days=2 - local.weekday())
    return wednesday.replace(hour=12, minute=0, second=0, microsecond=0).astimezone(UTC)


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


def make_block(
    market,
    at: datetime,
    *,
    opens_in=timedelta(seconds=-10),
    starts_in=timedelta(hours=4),
    hours=3,
    capacity=2,
    seed=42,
    store=None,
    window=60,
    cutoff=45,
) -> Block:
    """A published block, as a plain row (publish refuses times in the past)."""
    opens_at = at + opens_in
    return Block.objects.create(
        market=market,
        store=store,
        starts_at=at + starts_in,
        ends_at=at + starts_in + timedelta(hours=hours),
        opens_at=opens_at,
        guaranteed_pay_cents=9000,
        capacity=capacity,
        lottery_seed=seed,
        lottery_window_seconds=window,
        forfeit_cutoff_minutes=cutoff,
        status=Block.Status.OPEN if opens_at <= at else Block.Status.SCHEDULED,
    )


def request(block, driver):
    return services.block_request(block_id=block.id, driver_id=driver.id, actor=ME)


def draw(block, now):
    """Move past the lottery window and draw."""
    if now.at < block.lottery_closes_at:
        now.at = block.lottery_closes_at + timedelta(seconds=1)
    return services.block_lottery_draw(block_id=block.id, actor=OPS)


def worked(driver, market, store, hours: float, now) -> None:
    """A completed trip of `hours` engaged hours, earlier this week."""
    Trip.objects.create(
        market=market,
        store=store,
        driver=driver,
        status=Trip.Status.COMPLETED,
        assigned_at=now.at - timedelta(hours=hours + 1),
        completed_at=now.at - timedelta(hours=1),
    )


def statuses(block) -> dict[int, str]:
    return dict(block.reservations.values_list("driver_id", "status"))


def events_of(row) -> list[tuple[str, str]]:
    return list(
        DispatchEvent.objects.filter(entity="reservation", entity_id=row.id)
        .order_by("id")
        .values_list("from_status", "to_status")
    )
