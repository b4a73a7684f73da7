"""Weekly settlement: idempotent (M2), resumable after a crash (M3), one batch under a race
(M4); failed payouts give the money back; floors; instant pay."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from payouts import _sql, providers, selectors, services
from payouts.models import (
    Account,
    Earning,
    JournalEntry,
    JournalTransaction,
    Payout,
    PayoutBatch,
    PayoutEvent,
    SandboxTransfer,
)
from payouts.periods import week_containing
from payouts.services import earnings as earnings_services
from payouts.services import ledger, payout_moves, settlement
from payouts.services import payouts as payout_services
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, Unprocessable
from tests.factories import UserFactory
from tests.payouts import factories

pytestmark = pytest.mark.django_db


def last_week(market):
    return week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)


def a_week_of_trips(market, store, drivers=3, trips=2):
    week = last_week(market)
    people = [factories.driver(market) for _ in range(drivers)]
    for i, d in enumerate(people):
        for t in range(trips):
            at = week.starts_at + timedelta(days=1 + t, hours=i + 1)
            factories.completed_trip(driver=d, store=store, completed_at=at)
    return week, people


def ledger_state():
    balances = dict(
        JournalEntry.objects.values_list("account_id")
        .order_by("account_id")
        .annotate(s=Sum("amount_cents"))
    )
    return JournalEntry.objects.count(), JournalTransaction.objects.count(), balances


def test_settlement_pays_each_driver_the_week_once(city):
    market, store, _ = city
    week, people = a_week_of_trips(market, store)
    batch = services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert batch.status == "done"
    assert batch.payouts_count == 3
    assert batch.total_cents == 3 * 2 * (850 + 300)
    for d in people:
        assert selectors.balance_for_driver(driver_id=d.id, currency="USD") == 0
        payout = Payout.objects.get(driver=d)
        assert (payout.status, payout.period, payout.amount_cents) == ("paid", week.period, 2300)
        assert list(payout.events.values_list("to_status", flat=True)) == [
            "pending",
            "submitted",
            "paid",
        ]


def test_m2_settlement_rerun_three_times_changes_nothing(city):
    market, store, _ = city
    week, people = a_week_of_trips(market, store)
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    first = ledger_state()
    for _ in range(2):
        services.payout_batch_settle(market_id=market.id, period_start=week.start)
        assert ledger_state() == first
    assert PayoutBatch.objects.count() == 1
    keys = list(SandboxTransfer.objects.values_list("destination", flat=True))
    assert sorted(keys) == sorted(f"acct_sandbox_{d.id}" for d in people)


def test_m3_crash_after_payouts_committed_before_the_provider(city, monkeypatch):
    market, store, _ = city
    week, people = a_week_of_trips(market, store)

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(settlement, "payouts_submit", crash)
    with pytest.raises(RuntimeError):
        services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert Payout.objects.filter(status="pending").count() == 3
    assert SandboxTransfer.objects.count() == 0
    monkeypatch.undo()
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert SandboxTransfer.objects.count() == 3
    assert set(Payout.objects.values_list("status", flat=True)) == {"paid"}
    assert sum(JournalEntry.objects.values_list("amount_cents", flat=True)) == 0
    assert services.reconciliation_run().alerts_count == 0


def test_m3_crash_after_the_provider_before_marking_paid(city, monkeypatch):
    market, store, _ = city
    week, people = a_week_of_trips(market, store)

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(payout_services, "payouts_apply", crash)
    with pytest.raises(RuntimeError):
        services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert SandboxTransfer.objects.count() == 3
    monkeypatch.undo()
    # At once: the payouts are still leased to the dead worker; nothing is sent twice.
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert Payout.objects.filter(status="pending").count() == 3
    later = timezone.now() + payout_services.LEASE + timedelta(seconds=1)
    with clock.use_clock(lambda: later):
        counts = services.payouts_resume()
    assert counts["paid"] == 3
    assert SandboxTransfer.objects.count() == 3  # found by key, not sent again
    assert set(Payout.objects.values_list("status", flat=True)) == {"paid"}
    assert PayoutBatch.objects.get().status == "done"
    assert sum(JournalEntry.objects.values_list("amount_cents", flat=True)) == 0


@pytest.mark.django_db(transaction=True)
def test_m4_two_settlements_at_once_make_one_batch(city):
    market, store, _ = city
    week, people = a_week_of_trips(market, store)
    barrier, results, errors = threading.Barrier(2), [], []

    def settle():
        try:
            barrier.wait()
            results.append(
                services.payout_batch_settle(market_id=market.id, period_start=week.start)
            )
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert PayoutBatch.objects.count() == 1
    assert Payout.objects.count() == 3
    assert SandboxTransfer.objects.count() == 3
    assert set(Payout.objects.values_list("status", flat=True)) == {"paid"}
    assert sum(JournalEntry.objects.values_list("amount_cents", flat=True)) == 0


def test_failed_payout_returns_the_money_and_ops_retry_it(
    city, settings, django_capture_on_commit_callbacks
):
    market, store, _ = city
    week, people = a_week_of_trips(market, store, drivers=1)
    settings.PAYOUTS_SANDBOX_FAIL_WITH = "account_closed"
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    failed = Payout.objects.get()
    assert (failed.status, failed.failure_reason) == ("failed", "account_closed")
    assert selectors.balance_for_driver(driver_id=people[0].id, currency="USD") == 2300
    assert failed in selectors.payout_list_failed()
    settings.PAYOUTS_SANDBOX_FAIL_WITH = ""
    ops = Actor.user(UserFactory(), "ops")
    with django_capture_on_commit_callbacks(execute=True):
        retry = services.payout_retry(payout_id=failed.id, actor=ops, reason="account fixed")
    retry.refresh_from_db()
    assert (retry.status, retry.amount_cents, retry.retry_of_id) == ("paid", 2300, failed.id)
    assert selectors.balance_for_driver(driver_id=people[0].id, currency="USD") == 0
    with pytest.raises(Conflict):
        services.payout_retry(payout_id=failed.id, actor=ops, reason="again")


def test_week_not_over_is_refused(city):
    market, _, _ = city
    this_week = week_containing(at=timezone.now(), tz=market.timezone)
    with pytest.raises(Unprocessable):
        services.payout_batch_settle(market_id=market.id, period_start=this_week.start)


def test_weekly_payout_leaves_later_earnings_for_next_week(city):
    market, store, _ = city
    week, people = a_week_of_trips(market, store, drivers=1, trips=1)
    factories.completed_trip(driver=people[0], store=store, completed_at=timezone.now())
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert Payout.objects.get().amount_cents == 1150
    services.earnings_post()  # this week's trip, posted by the minute sweep
    assert selectors.balance_for_driver(driver_id=people[0].id, currency="USD") == 1150


def test_floor_tops_up_pay_per_engaged_hour_once(city):
    market, store, card = city
    card.hourly_floor_cents = 3000
    card.save(update_fields=["hourly_floor_cents"])
    week, people = a_week_of_trips(market, store, drivers=1, trips=1)  # 40 min, 850 pay
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    top = Earning.objects.get(kind="floor_topup")
    assert top.guarantee_cents == 2000 - 850
    assert top.period_start == week.start
    assert Payout.objects.get().amount_cents == 2000 + 300
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert Earning.objects.filter(kind="floor_topup").count() == 1


def test_settle_due_settles_every_market_whose_week_ended(city):
    market, store, _ = city
    week, _ = a_week_of_trips(market, store, drivers=1)
    due = services.payout_batches_settle_due()
    assert due == [(market.id, week.start.isoformat())]
    assert PayoutBatch.objects.get().period_start == week.start
    assert services.payout_batches_settle_due() == []


def test_instant_pay_once_a_day_with_the_fee(city, django_capture_on_commit_callbacks):
    market, store, card = city
    driver = factories.driver(market)
    factories.completed_trip(driver=driver, store=store)
    services.earnings_post()
    actor = Actor.user(driver.user, "driver")
    with django_capture_on_commit_callbacks(execute=True):
        payout = services.instant_payout_request(driver_id=driver.id, actor=actor)
    payout.refresh_from_db()
    assert payout.status == "paid"
    assert (payout.amount_cents, payout.fee_cents) == (1150 - card.instant_pay_fee_cents, 199)
    assert selectors.balance_for_driver(driver_id=driver.id, currency="USD") == 0
    factories.completed_trip(driver=driver, store=store)
    services.earnings_post()
    with pytest.raises(Conflict):
        services.instant_payout_request(driver_id=driver.id, actor=actor)


def test_instant_pay_needs_a_balance_above_the_fee(city):
    market, _, _ = city
    driver = factories.driver(market)
    with pytest.raises(Unprocessable):
        services.instant_payout_request(driver_id=driver.id, actor=Actor.system("t"))


def test_instant_then_weekly_never_pays_twice(city, django_capture_on_commit_callbacks):
    market, store, _ = city
    week, people = a_week_of_trips(market, store, drivers=1, trips=1)
    services.earnings_post(since=week.starts_at)
    with django_capture_on_commit_callbacks(execute=True):
        services.instant_payout_request(driver_id=people[0].id, actor=Actor.system("t"))
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert Payout.objects.count() == 1
    assert selectors.balance_for_driver(driver_id=people[0].id, currency="USD") == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("workers", [2, 3])
def test_sharded_week_posts_every_trip_once_across_driver_ranges(
    city, settings, monkeypatch, workers
):
    """Settlement posts the week in driver-id ranges side by side (one connection each):
    every trip lands in exactly one range, and a second run posts nothing."""
    settings.PAYOUTS_SETTLE_WORKERS = workers
    market, store, _ = city
    week, people = a_week_of_trips(market, store, drivers=5, trips=2)
    ranges, post = [], earnings_services._post

    def spy(**kwargs):
        ranges.append(kwargs["drivers"])
        return post(**kwargs)

    monkeypatch.setattr(earnings_services, "_post", spy)
    batch = services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert len(ranges) == workers
    # Contiguous with open ends (the threads report in any order): no driver is left out.
    starts, ends = [r[0] for r in ranges], [r[1] for r in ranges]
    assert None in starts
    assert None in ends
    assert sorted(b for b in starts if b) == sorted(b for b in ends if b)
    lines = Earning.objects.filter(kind="trip")
    assert lines.count() == 10
    assert lines.values("trip_id").distinct().count() == 10
    assert batch.payouts_count == 5
    assert set(Payout.objects.values_list("driver_id", flat=True)) == {d.id for d in people}
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    assert Earning.objects.count() == 10
    assert sum(JournalEntry.objects.values_list("amount_cents", flat=True)) == 0


def test_a_transfer_paid_at_once_records_both_steps(city):
    """The sandbox pays at once: pending -> paid is one UPDATE, and the payout's events still
    show each legal step, submitted then paid, with the ledger's paid move once."""
    market, store, _ = city
    week, people = a_week_of_trips(market, store, drivers=2, trips=1)
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    for payout in Payout.objects.all():
        assert (payout.status, bool(payout.submitted_at), bool(payout.paid_at)) == (
            "paid",
            True,
            True,
        )
        steps = list(
            PayoutEvent.objects.filter(payout=payout)
            .order_by("at", "id")
            .values_list("from_status", "to_status")
        )
        assert steps == [("", "pending"), ("pending", "submitted"), ("submitted", "paid")]
        paid = JournalTransaction.objects.filter(payout=payout, kind="payout_paid")
        assert paid.count() == 1


def test_payouts_move_only_along_legal_steps(city):
    with pytest.raises(ValueError, match="do not move"):
        payout_moves._move(Payout.Status.PAID, Payout.Status.PENDING, "TRUE", "updated_at = %s")


def test_the_provider_sizes_the_claim_within_its_lease():
    lease = timedelta(minutes=5)
    assert providers.SandboxProvider().batch_size(lease=lease) == 10_000
    stripe = providers.StripeProvider(api_key="sk_test_123", timeout=20)
    # Two requests per payout (a lookup, then the transfer), each up to the timeout.
    assert stripe.batch_size(lease=lease) * 2 * 20 <= lease.total_seconds()
    assert stripe.batch_size(lease=timedelta(seconds=5)) == 1


def test_submission_claims_what_the_provider_sends_within_the_lease(city, settings):
    market, store, _ = city
    week, people = a_week_of_trips(market, store, drivers=3, trips=1)
    settings.PAYOUTS_SUBMIT_CHUNK = None
    claims = []

    class TwoAtATime(providers.SandboxProvider):
        def batch_size(self, *, lease):
            return 2

        def transfer_many(self, requests):
            claims.append(len(requests))
            return super().transfer_many(requests)

    provider = TwoAtATime()
    earnings_services.earnings_post(since=week.starts_at, until=week.ends_at, wait=True)
    batch = settlement._batch_create(market_id=market.id, currency="USD", week=week)
    services.payouts_submit(batch_id=batch.id, provider=provider)
    assert claims == [2, 1]
    assert set(Payout.objects.values_list("status", flat=True)) == {"paid"}


def test_driver_payables_open_once_in_the_home_market(city):
    market, store, _ = city
    driver = factories.driver(market)
    pairs = f"SELECT CAST({driver.id} AS bigint) AS driver_id, 'USD' AS currency"
    ledger.driver_accounts_open(pairs)
    ledger.driver_accounts_open(pairs)  # already open: nothing new
    accounts = Account.objects.filter(kind="driver_payable", driver=driver)
    assert list(accounts.values_list("currency", "market_id")) == [("USD", market.id)]
    assert ledger.driver_account(driver_id=driver.id, currency="USD") == accounts.get()


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_commit_without_waiting_is_this_transactions_only():
    with transaction.atomic():
        _sql.commit_without_waiting()
        assert _synchronous_commit() == "off"
    assert _synchronous_commit() == "on"  # SET LOCAL: gone with the commit
    with transaction.atomic(), transaction.atomic():
        # Inside a caller's transaction, its commit keeps the caller's promise.
        _sql.commit_without_waiting()
        assert _synchronous_commit() == "on"
