"""Scheduled blocks: publishing rules, eligibility, the seeded weighted lottery (deterministic,
weighted to fewer hours, no fastest-tap advantage), first come after the window, capacity under
concurrency, overlaps, forfeits, cancellation, no-shows and completion."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from dispatch import services
from dispatch.models import BlockReservation, DispatchEvent
from tests.dispatch.block_helpers import (
    MAX_CONNECTIONS_IN_FLIGHT,
    OPS,
    R,
    make_block,
    request,
)
from tests.drivers.factories import approved_driver

pytestmark = pytest.mark.django_db


# --- concurrency (threads on PostgreSQL) -------------------------------------------------------


def _race(n: int, attempt) -> list[str]:
    """Release n threads at once (at most 25 with a connection); each closes its connection."""
    barrier = threading.Barrier(n)
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS_IN_FLIGHT)
    results: list[str] = [""] * n

    def run(i: int) -> None:
        barrier.wait()
        with slots:
            try:
                results[i] = attempt(i)
            except Exception as exc:  # collected and asserted on
                results[i] = f"error: {exc!r}"
            finally:
                connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _try_request(block, driver) -> str:
    try:
        return request(block, driver).status
    except services.BlockFull:
        return "full"


@pytest.mark.django_db(transaction=True)
def test_capacity_holds_when_thirty_drivers_reserve_at_once(city, now):
    market, _ = city
    block = make_block(market, now.at, opens_in=timedelta(minutes=-10), capacity=5)
    drivers = [approved_driver(home_market=market) for _ in range(30)]
    services.block_lottery_draw(block_id=block.id, actor=OPS)  # an empty lottery
    results = _race(30, lambda i: _try_request(block, drivers[i]))
    assert not [r for r in results if r.startswith("error")], results
    assert results.count(R.RESERVED) == 5
    assert results.count("full") == 25
    assert block.reservations.filter(status=R.RESERVED).count() == 5


@pytest.mark.django_db(transaction=True)
def test_capacity_holds_when_lottery_entries_draws_and_late_requests_race(city, now):
    market, _ = city
    block = make_block(market, now.at, capacity=4)
    drivers = [approved_driver(home_market=market) for _ in range(28)]
    entries = _race(20, lambda i: request(block, drivers[i]).status)
    assert entries == [R.REQUESTED] * 20
    now.advance(seconds=61)

    def attempt(i: int) -> str:
        if i < 4:  # the sweep and ops both drawing
            services.block_lottery_draw(block_id=block.id, actor=OPS)
            return "drew"
        return _try_request(block, drivers[20 + i - 4])

    results = _race(12, attempt)
    assert not [r for r in results if r.startswith("error")], results
    assert results.count("full") == 8  # the lottery filled the block before any late request
    assert block.reservations.filter(status=R.RESERVED).count() == 4
    assert block.reservations.filter(status=R.LOST).count() == 16
    assert DispatchEvent.objects.filter(entity="reservation", to_status="reserved").count() == 4


@pytest.mark.django_db(transaction=True)
def test_one_driver_tapping_two_overlapping_blocks_at_once_gets_one(city, now):
    market, _ = city
    driver = approved_driver(home_market=market)
    blocks = [
        make_block(
            market, now.at, opens_in=timedelta(minutes=-10), starts_in=timedelta(hours=4 + i)
        )
        for i in range(2)
    ]

    def attempt(i: int) -> str:
        try:
            return request(blocks[i % 2], driver).status
        except services.BlockOverlap:
            return "overlap"

    results = _race(10, attempt)
    assert not [r for r in results if r.startswith("error")], results
    assert BlockReservation.objects.filter(driver=driver, status=R.RESERVED).count() == 1
    assert results.count("overlap") == 5
