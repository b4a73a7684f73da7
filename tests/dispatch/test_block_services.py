"""Scheduled blocks: publishing rules, eligibility, the seeded weighted lottery (deterministic,
weighted to fewer hours, no fastest-tap advantage), first come after the window, capacity under
concurrency, overlaps, forfeits, cancellation, no-shows and completion."""

from datetime import timedelta

import pytest
from django.core import mail

from dispatch import selectors, selectors_blocks, services
from dispatch.models import Block, BlockReservation, DispatchEvent, Trip
from dispatch.services import blocks as block_services
from drivers.models import Driver
from spark.lib import clock
from spark.lib.errors import InvalidTransition, NotFound
from tests.dispatch.block_helpers import (
    ME,
    OPS,
    R,
    draw,
    events_of,
    make_block,
    request,
    statuses,
    worked,
)
from tests.dispatch.conftest import online_driver
from tests.drivers.factories import approved_driver, driver_in
from tests.factories import MarketFactory, StoreFactory

pytestmark = pytest.mark.django_db


# --- publish -------------------------------------------------------------------------------


def _publish(market, **overrides):
    start = clock.now() + timedelta(days=1)
    kwargs = {
        "market_id": market.id,
        "starts_at": start,
        "ends_at": start + timedelta(hours=3),
        "guaranteed_pay_cents": 7500,
        "capacity": 3,
        "actor": OPS,
        **overrides,
    }
    return services.block_publish(**kwargs)


def test_block_publish_creates_a_scheduled_block_with_a_secret_seed_and_an_event(city, now):
    market, store = city
    block = _publish(market, store_id=store.id, opens_at=now.at + timedelta(hours=2))
    assert block.status == Block.Status.SCHEDULED
    assert block.currency == market.currency
    assert block.lottery_seed != 0
    assert _publish(market).lottery_seed != block.lottery_seed
    event = DispatchEvent.objects.get(entity="block", entity_id=block.id)
    assert (event.from_status, event.to_status, event.actor_label) == ("", "scheduled", OPS.label)


def test_block_publish_opens_now_when_no_opening_time_is_given(city, now):
    block = _publish(city[0])
    assert block.status == Block.Status.OPEN
    assert block.opens_at == now.at


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at": "start"}, "ends_at"),
        ({"ends_at": "start-1h"}, "ends_at"),
        ({"ends_at": "start+13h"}, "ends_at"),
        ({"opens_at": "start"}, "opens_at"),
        ({"opens_at": "now-1h"}, "opens_at"),
        ({"starts_at": "now-1h", "ends_at": "now+1h"}, "starts_at"),
        ({"capacity": 0}, "capacity"),
        ({"guaranteed_pay_cents": -1}, "guaranteed_pay_cents"),
        ({"lottery_window_seconds": 4000}, "lottery_window_seconds"),
    ],
)
def test_block_publish_refuses_broken_rules(city, now, overrides, field):
    start = now.at + timedelta(days=1)
    times = {
        "start": start,
        "start-1h": start - timedelta(hours=1),
        "start+13h": start + timedelta(hours=13),
        "now-1h": now.at - timedelta(hours=1),
        "now+1h": now.at + timedelta(hours=1),
    }
    resolved = {k: times.get(v, v) if isinstance(v, str) else v for k, v in overrides.items()}
    with pytest.raises(services.InvalidBlock) as exc:
        _publish(city[0], **resolved)
    assert exc.value.extra["field"] == field
    assert exc.value.status_code == 422
    assert not Block.objects.exists()


def test_block_publish_refuses_a_store_of_another_market(city, now):
    other_store = StoreFactory(market=MarketFactory())
    with pytest.raises(services.InvalidBlock) as exc:
        _publish(city[0], store_id=other_store.id)
    assert exc.value.extra["field"] == "store"


# --- request: eligibility and phases --------------------------------------------------------


def test_block_request_before_opening_is_409_not_open_yet(city, now):
    market, _ = city
    block = make_block(market, now.at, opens_in=timedelta(hours=1))
    with pytest.raises(services.BlockNotOpenYet) as exc:
        request(block, approved_driver(home_market=market))
    assert (exc.value.status_code, exc.value.code) == (409, "not_open_yet")
    assert not BlockReservation.objects.exists()


@pytest.mark.parametrize(
    "status",
    [Driver.Status.APPLIED, Driver.Status.SCREENING, Driver.Status.SUSPENDED, "expired_documents"],
)
def test_block_request_refuses_drivers_who_may_not_go_online(city, now, status):
    market, _ = city
    if status == "expired_documents":
        driver = approved_driver(home_market=market)
        driver.documents.update(expires_on=now.at.date() - timedelta(days=1))
    else:
        driver = driver_in(status, home_market=market)
    with pytest.raises(services.NotEligible) as exc:
        request(make_block(market, now.at), driver)
    assert exc.value.status_code == 403


def test_block_request_of_another_markets_block_is_not_found(city, now):
    block = make_block(city[0], now.at)
    with pytest.raises(NotFound):
        request(block, approved_driver(home_market=MarketFactory()))


def test_block_request_of_a_started_or_cancelled_block_is_refused(city, now):
    market, _ = city
    driver = approved_driver(home_market=market)
    started = make_block(market, now.at, opens_in=timedelta(hours=-5), starts_in=timedelta(0))
    with pytest.raises(services.BlockClosed):
        request(started, driver)
    cancelled = make_block(market, now.at)
    services.block_cancel(block_id=cancelled.id, actor=OPS, reason="Store closed")
    with pytest.raises(services.BlockClosed):
        request(cancelled, driver)


def test_block_request_in_the_window_is_a_weighted_lottery_entry(city, now):
    market, store = city
    driver = approved_driver(home_market=market)
    worked(driver, market, store, 10, now)
    block = make_block(market, now.at)
    row = request(block, driver)
    assert row.status == R.REQUESTED
    assert row.lottery_weight == pytest.approx(0.5)
    assert row.requested_at == now.at
    assert events_of(row) == [("", "requested")]
    assert request(block, driver).id == row.id  # a second tap changes nothing
    assert BlockReservation.objects.count() == 1


def test_standing_counts_only_completed_trips_of_this_week(city, now):
    market, store = city
    driver = approved_driver(home_market=market)
    worked(driver, market, store, 40, now)
    old = now.at - timedelta(days=8)
    Trip.objects.create(
        market=market,
        store=store,
        driver=driver,
        status=Trip.Status.COMPLETED,
        assigned_at=old - timedelta(hours=9),
        completed_at=old,
    )
    standing = selectors_blocks.driver_block_standing(
        driver_id=driver.id, tz="America/Chicago", now=now.at
    )
    assert standing.hours_this_week == pytest.approx(40)
    assert standing.weight == pytest.approx(0.2)


# --- the lottery ----------------------------------------------------------------------------


def test_draw_winners_is_deterministic_for_a_seed():
    weights = {i: 1.0 / (1 + i % 5) for i in range(1, 41)}
    first = block_services.draw_winners(weights=weights, seed=1234, places=7)
    assert len(first) == len(set(first)) == 7
    for _ in range(5):
        assert block_services.draw_winners(weights=weights, seed=1234, places=7) == first
    others = {
        tuple(block_services.draw_winners(weights=weights, seed=s, places=7)) for s in range(20)
    }
    assert len(others) > 1  # the seed matters


def test_draw_winners_favours_fewer_hours_over_many_seeds():
    fresh, busy = 1, 2
    weights = {
        fresh: selectors_blocks.lottery_weight(hours=0, forfeits=0),
        busy: selectors_blocks.lottery_weight(hours=40, forfeits=0),
    }
    wins = sum(
        block_services.draw_winners(weights=weights, seed=seed, places=1) == [fresh]
        for seed in range(2000)
    )
    # Weighted without replacement: P(fresh first) = 1 / (1 + 0.2) = 0.83.
    assert 0.78 < wins / 2000 < 0.88


def test_draw_winners_ignores_arrival_order():
    weights = {7: 0.3, 3: 1.0, 11: 0.5, 5: 0.8}
    reordered = dict(reversed(list(weights.items())))
    for seed in range(50):
        assert block_services.draw_winners(
            weights=weights, seed=seed, places=2
        ) == block_services.draw_winners(weights=reordered, seed=seed, places=2)


def test_no_fastest_tap_advantage_requests_in_any_order_draw_the_same_winners(city, now):
    market, _ = city
    drivers = [approved_driver(home_market=market) for _ in range(6)]
    forward = make_block(market, now.at, capacity=2, seed=99)
    backward = make_block(
        market, now.at, capacity=2, seed=99, starts_in=timedelta(days=1)
    )  # same seed, same entrants, no overlap
    for driver in drivers:
        request(forward, driver)
        now.advance(seconds=1)
    for driver in reversed(drivers):
        request(backward, driver)
        now.advance(seconds=1)
    draw(forward, now)
    draw(backward, now)
    assert statuses(forward) == statuses(backward)
    assert list(statuses(forward).values()).count(R.RESERVED) == 2


def test_lottery_draw_reserves_up_to_capacity_the_rest_lose_with_events_and_emails(
    city, now, django_capture_on_commit_callbacks
):
    market, _ = city
    drivers = [approved_driver(home_market=market) for _ in range(5)]
    block = make_block(market, now.at, capacity=2)
    for driver in drivers:
        request(block, driver)
    with django_capture_on_commit_callbacks(execute=True):
        drawn = draw(block, now)
    assert drawn.lottery_drawn_at == now.at
    outcome = list(statuses(block).values())
    assert sorted(outcome) == [R.LOST, R.LOST, R.LOST, R.RESERVED, R.RESERVED]
    for row in block.reservations.all():
        assert events_of(row) == [("", "requested"), ("requested", row.status)]
        assert row.decided_at == now.at
    lost_note = DispatchEvent.objects.filter(to_status="lost").first().note
    assert "5 requests for 2 places" in lost_note
    subjects = sorted(m.subject.split(":")[0] for m in mail.outbox)
    assert subjects == ["Not this time"] * 3 + ["You have a block"] * 2


def test_lottery_draw_is_idempotent_and_not_before_the_window_closes(city, now):
    market, _ = city
    block = make_block(market, now.at, capacity=1)
    request(block, approved_driver(home_market=market))
    request(block, approved_driver(home_market=market))
    with pytest.raises(services.LotteryNotDue):
        services.block_lottery_draw(block_id=block.id, actor=OPS)
    draw(block, now)
    first = statuses(block)
    count = DispatchEvent.objects.count()
    now.advance(minutes=5)
    services.block_lottery_draw(block_id=block.id, actor=OPS)
    assert statuses(block) == first
    assert DispatchEvent.objects.count() == count


def test_lottery_draw_is_the_same_for_the_same_seed_and_entrants(city, now):
    """Re-running a draw from its stored weights and seed gives the recorded winners."""
    market, store = city
    drivers = [approved_driver(home_market=market) for _ in range(8)]
    for i, driver in enumerate(drivers):
        worked(driver, market, store, i * 5, now)
    block = make_block(market, now.at, capacity=3, seed=2024)
    for driver in drivers:
        request(block, driver)
    weights = dict(block.reservations.values_list("driver_id", "lottery_weight"))
    draw(block, now)
    reserved = {d for d, s in statuses(block).items() if s == R.RESERVED}
    assert reserved == set(block_services.draw_winners(weights=weights, seed=2024, places=3))


# --- first come after the window ------------------------------------------------------------


def test_first_come_after_the_window_until_full_then_block_full(city, now):
    market, _ = city
    block = make_block(market, now.at, opens_in=timedelta(minutes=-10), capacity=2)
    a, b, c = (approved_driver(home_market=market) for _ in range(3))
    assert request(block, a).status == R.RESERVED
    assert request(block, b).status == R.RESERVED
    with pytest.raises(services.BlockFull) as exc:
        request(block, c)
    assert (exc.value.status_code, exc.value.code) == (409, "block_full")
    block.refresh_from_db()
    assert block.lottery_drawn_at is not None  # an empty lottery, drawn on the first request


def test_a_request_after_the_window_never_jumps_an_undrawn_lottery(city, now):
    market, _ = city
    block = make_block(market, now.at, capacity=2)
    entrants = [approved_driver(home_market=market) for _ in range(2)]
    for driver in entrants:
        request(block, driver)
    now.advance(minutes=2)  # the window closed; the sweep has not drawn yet
    late = approved_driver(home_market=market)
    with pytest.raises(services.BlockFull):
        request(block, late)
    assert all(statuses(block)[d.id] == R.RESERVED for d in entrants)


def test_a_lost_driver_takes_a_released_place_first_come(city, now):
    market, _ = city
    block = make_block(market, now.at, capacity=1, starts_in=timedelta(hours=5))
    a, b = approved_driver(home_market=market), approved_driver(home_market=market)
    request(block, a)
    request(block, b)
    draw(block, now)
    winner_id = next(d for d, s in statuses(block).items() if s == R.RESERVED)
    loser = b if winner_id == a.id else a
    with pytest.raises(services.BlockFull):
        request(block, loser)
    winner_row = block.reservations.get(driver_id=winner_id)
    services.block_release(reservation_id=winner_row.id, driver_id=winner_id, actor=ME)
    row = request(block, loser)
    assert row.status == R.RESERVED
    assert events_of(row)[-1] == ("lost", "reserved")


# --- overlaps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset_hours", "overlaps"), [(0, True), (2, True), (-2, True), (3, False), (-3, False)]
)
def test_overlapping_blocks_are_refused(city, now, offset_hours, overlaps):
    market, _ = city
    driver = approved_driver(home_market=market)
    first = make_block(market, now.at, opens_in=timedelta(minutes=-10), hours=3)
    request(first, driver)
    second = make_block(
        market,
        now.at,
        opens_in=timedelta(minutes=-10),
        starts_in=timedelta(hours=4 + offset_hours),
        hours=3,
    )
    if overlaps:
        with pytest.raises(services.BlockOverlap):
            request(second, driver)
    else:
        assert request(second, driver).status == R.RESERVED


def test_a_pending_lottery_request_also_blocks_an_overlapping_one(city, now):
    market, _ = city
    driver = approved_driver(home_market=market)
    request(make_block(market, now.at), driver)
    with pytest.raises(services.BlockOverlap):
        request(make_block(market, now.at, starts_in=timedelta(hours=5)), driver)


# --- release and forfeit ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes_before_start", "outcome"),
    [(240, R.RELEASED), (46, R.RELEASED), (45, R.FORFEITED), (10, R.FORFEITED), (-5, R.FORFEITED)],
)
def test_release_before_the_cutoff_is_free_after_it_is_a_forfeit(
    city, now, minutes_before_start, outcome, django_capture_on_commit_callbacks
):
    market, _ = city
    driver = approved_driver(home_market=market)
    block = make_block(market, now.at, opens_in=timedelta(minutes=-10), cutoff=45)
    row = request(block, driver)
    now.at = block.starts_at - timedelta(minutes=minutes_before_start)
    with django_capture_on_commit_callbacks(execute=True):
        released = services.block_release(reservation_id=row.id, driver_id=driver.id, actor=ME)
    assert released.status == outcome
    assert events_of(row)[-1] == ("reserved", outcome)
    assert mail.outbox[-1].subject.startswith(
        "Block forfeited" if outcome == R.FORFEITED else "Block released"
    )


def test_withdrawing_a_lottery_request_is_free(city, now):
    market, _ = city
    driver = approved_driver(home_market=market)
    block = make_block(market, now.at)
    row = request(block, driver)
    assert services.block_release(reservation_id=row.id, driver_id=driver.id, actor=ME).status == (
        R.RELEASED
    )
    assert request(block, driver).status == R.REQUESTED  # changed their mind, still in time


def test_release_of_another_drivers_reservation_is_not_found(city, now):
    market, _ = city
    owner, other = approved_driver(home_market=market), approved_driver(home_market=market)
    row = request(make_block(market, now.at), owner)
    with pytest.raises(NotFound):
        services.block_release(reservation_id=row.id, driver_id=other.id, actor=ME)
    row.refresh_from_db()
    assert row.status == R.REQUESTED


def test_a_forfeited_block_cannot_be_asked_for_again_and_forfeits_halve_the_weight(city, now):
    market, _ = city
    driver = approved_driver(home_market=market)
    block = make_block(
        market, now.at, opens_in=timedelta(minutes=-10), starts_in=timedelta(minutes=30)
    )
    row = request(block, driver)
    services.block_release(reservation_id=row.id, driver_id=driver.id, actor=ME)
    row.refresh_from_db()
    assert row.status == R.FORFEITED
    with pytest.raises(services.BlockClosed):
        request(block, driver)
    later = make_block(market, now.at, starts_in=timedelta(days=1))
    assert request(later, driver).lottery_weight == pytest.approx(0.5)


def test_released_rows_cannot_be_released_again(city, now):
    market, _ = city
    driver = approved_driver(home_market=market)
    row = request(make_block(market, now.at, opens_in=timedelta(minutes=-10)), driver)
    services.block_release(reservation_id=row.id, driver_id=driver.id, actor=ME)
    with pytest.raises(InvalidTransition):
        services.block_release(reservation_id=row.id, driver_id=driver.id, actor=ME)


# --- the transition table ---------------------------------------------------------------------


@pytest.mark.parametrize("to", R.values)
@pytest.mark.parametrize("from_status", R.values)
def test_reservation_transition_table(city, now, from_status, to):
    market, _ = city
    block = make_block(market, now.at)
    row = BlockReservation.objects.create(
        block=block,
        driver=approved_driver(home_market=market),
        status=from_status,
        requested_at=now.at,
    )
    if to in BlockReservation.TRANSITIONS[from_status]:
        block_services._reservations_transition([row], to=to, actor=OPS, at=now.at, note="t")
        row.refresh_from_db()
        assert row.status == to
        assert events_of(row) == [(from_status, to)]
    else:
        with pytest.raises(InvalidTransition):
            block_services._reservations_transition([row], to=to, actor=OPS, at=now.at)
        row.refresh_from_db()
        assert row.status == from_status
        assert events_of(row) == []


# --- cancel ---------------------------------------------------------------------------------


def test_block_cancel_releases_everyone_and_emails_the_reason(
    city, now, django_capture_on_commit_callbacks
):
    market, _ = city
    block = make_block(market, now.at, opens_in=timedelta(minutes=-10), capacity=3)
    a, b = approved_driver(home_market=market), approved_driver(home_market=market)
    request(block, a)
    request(block, b)
    with pytest.raises(Exception, match="Say why"):
        services.block_cancel(block_id=block.id, actor=OPS, reason="  ")
    with django_capture_on_commit_callbacks(execute=True):
        services.block_cancel(block_id=block.id, actor=OPS, reason="Store closed for inventory")
    block.refresh_from_db()
    assert block.status == Block.Status.CANCELLED
    assert set(statuses(block).values()) == {R.RELEASED}
    assert len(mail.outbox) == 2
    assert all("Store closed for inventory" in m.body for m in mail.outbox)
    event = DispatchEvent.objects.get(entity="block", entity_id=block.id, to_status="cancelled")
    assert event.note == "Store closed for inventory"


def test_a_started_block_cannot_be_cancelled(city, now):
    block = make_block(city[0], now.at, opens_in=timedelta(hours=-5), starts_in=timedelta(0))
    with pytest.raises(services.BlockClosed):
        services.block_cancel(block_id=block.id, actor=OPS, reason="late")


# --- the sweep: open, draw, check-in, no-shows, completion -----------------------------------


def test_sweep_opens_and_draws_due_blocks(city, now):
    market, _ = city
    block = make_block(market, now.at, opens_in=timedelta(minutes=5), capacity=1)
    assert services.blocks_sweep()["opened"] == 0
    now.advance(minutes=5)
    assert services.blocks_sweep()["opened"] == 1
    request(block, approved_driver(home_market=market))
    assert services.blocks_sweep()["drawn"] == 0  # the window is open
    now.advance(seconds=61)
    assert services.blocks_sweep()["drawn"] == 1
    assert services.blocks_sweep()["drawn"] == 0
    assert list(statuses(block).values()) == [R.RESERVED]


def test_no_show_forfeits_a_reserved_driver_who_is_not_online_in_time(
    city, now, settings, django_capture_on_commit_callbacks
):
    settings.BLOCKS_NO_SHOW_MINUTES = 10
    market, _ = city
    block = make_block(market, now.at, opens_in=timedelta(minutes=-10), capacity=3)
    present = online_driver(market)
    absent = approved_driver(home_market=market)
    request(block, present)
    request(block, absent)
    now.at = block.starts_at + timedelta(minutes=1)
    assert services.blocks_check_in() == 1
    now.at = block.starts_at + timedelta(minutes=9)
    assert services.blocks_mark_no_shows() == 0
    now.at = block.starts_at + timedelta(minutes=10)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.blocks_mark_no_shows() == 1
    assert statuses(block) == {present.id: R.RESERVED, absent.id: R.FORFEITED}
    note = DispatchEvent.objects.get(to_status="forfeited").note
    assert "within 10 minutes" in note
    assert [m.to for m in mail.outbox] == [[absent.user.email]]


def test_blocks_complete_after_the_end_pays_those_who_were_online(city, now):
    market, _ = city
    block = make_block(market, now.at, opens_in=timedelta(minutes=-10), capacity=3)
    worker = online_driver(market)
    request(block, worker)
    now.at = block.starts_at + timedelta(minutes=2)
    services.blocks_sweep()
    assert selectors.block_reservation_active_for_driver(driver_id=worker.id, at=now.at)
    now.at = block.ends_at + timedelta(seconds=1)
    assert services.blocks_sweep()["completed"] == 1
    row = block.reservations.get()
    assert row.status == R.COMPLETED
    assert "$90.00" in DispatchEvent.objects.filter(entity_id=row.id).last().note
    assert services.blocks_sweep()["completed"] == 0


def test_a_trip_during_the_block_counts_as_checking_in(city, now):
    market, store = city
    block = make_block(market, now.at, opens_in=timedelta(minutes=-10))
    driver = approved_driver(home_market=market)
    request(block, driver)
    now.at = block.starts_at + timedelta(minutes=3)
    Trip.objects.create(
        market=market,
        store=store,
        driver=driver,
        status=Trip.Status.COMPLETED,
        assigned_at=block.starts_at + timedelta(minutes=1),
        completed_at=now.at,
    )
    assert services.blocks_check_in() == 1


def test_trips_taken_during_a_block_count_towards_its_guarantee(city, now):
    market, store = city
    block = make_block(market, now.at, opens_in=timedelta(minutes=-10))
    driver = approved_driver(home_market=market)
    row = request(block, driver)

    def trip(assigned_at):
        return Trip.objects.create(
            market=market, store=store, driver=driver, status="assigned", assigned_at=assigned_at
        )

    before = trip(block.starts_at - timedelta(minutes=5))
    before.status = Trip.Status.COMPLETED
    before.save(update_fields=["status"])
    now.at = block.starts_at + timedelta(minutes=20)
    during = trip(block.starts_at + timedelta(minutes=15))
    assert services.blocks_sweep()["trips_linked"] == 1
    during.refresh_from_db()
    before.refresh_from_db()
    assert during.block_reservation_id == row.id
    assert before.block_reservation_id is None
    assert services.blocks_link_trips() == 0


def test_notify_sends_once_and_not_for_a_stale_status(city, now):
    market, _ = city
    driver = approved_driver(home_market=market)
    row = request(make_block(market, now.at, opens_in=timedelta(minutes=-10)), driver)
    assert services.block_reservation_notify(reservation_id=row.id, kind="reserved")
    assert not services.block_reservation_notify(reservation_id=row.id, kind="reserved")
    assert not services.block_reservation_notify(reservation_id=row.id, kind="lost")
    assert len(mail.outbox) == 1
    assert "Be online" in mail.outbox[0].body or "Go online" in mail.outbox[0].body


def test_sweep_task_runs_eagerly(city, now):
    from dispatch import tasks

    make_block(city[0], now.at, opens_in=timedelta(minutes=-5))
    result = tasks.blocks_sweep.delay().get()
    assert result["drawn"] == 1


def test_demo_seed_publishes_nashville_blocks_once(db):
    import io

    from dispatch import demo_blocks

    nashville = MarketFactory(slug="nashville", name="Nashville")
    for _ in range(3):
        StoreFactory(market=nashville)
    out = io.StringIO()
    demo_blocks.seed(out)
    demo_blocks.seed(out)
    blocks = Block.objects.filter(market=nashville)
    assert blocks.count() == 4
    assert blocks.filter(status=Block.Status.OPEN).count() == 2  # open for reservation now
    assert blocks.filter(status=Block.Status.SCHEDULED).count() == 2  # opening tomorrow
    assert "(kept)" in out.getvalue()
