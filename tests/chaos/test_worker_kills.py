"""Q1 and M3: a real Celery worker killed with `kill -9` in the middle of paying drivers.

Two ways to die: the whole worker (its process group: the machine or container went away), after
which the unacked message comes back once the broker's visibility timeout has passed (10 s here,
1 h in production) and a new worker runs it; or only the pool child running the task, which
`task_reject_on_worker_lost` requeues at once. Either way a payout is sent to the provider under
its own idempotency key, so a rerun finds the transfer instead of making a second one.
"""

import random
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from payouts import selectors, services
from payouts.models import Payout, PayoutBatch, PayoutEvent, SandboxTransfer
from payouts.periods import week_containing
from payouts.services import ledger
from payouts.services import payouts as payout_services
from spark.lib.actors import Actor
from tests.chaos.conftest import FULL, size
from tests.chaos.helpers import (
    chaos_sessions_waiting_on_a_lock,
    ledger_invariants,
    row_lock,
    task_log,
)
from tests.chaos.procs import wait_until
from tests.factories import MarketFactory, MerchantFactory, StoreFactory
from tests.payouts import factories

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

SETTLE, SUBMIT, RESUME = (
    "payouts.tasks.payout_batch_settle",
    "payouts.tasks.payout_submit",
    "payouts.tasks.payouts_resume",
)
PER_DRIVER = 2 * (400 + 350 + 100 + 300)  # two trips: base + distance + time + tip
LOCK_CASH = (
    "SELECT id FROM payouts_account WHERE kind = 'cash' AND driver_id IS NULL "
    "AND currency = 'USD' FOR UPDATE"
)


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PAYOUTS_PROVIDER = "sandbox"
    settings.PAYOUTS_SANDBOX_FAIL_WITH = ""


def a_market_with_a_week_of_trips(drivers: int):
    """A market whose last week has two completed trips per driver, nothing settled yet."""
    with transaction.atomic():
        market = MarketFactory(timezone="America/Chicago")
        factories.rate_card(market)
        store = StoreFactory(market=market, merchant=MerchantFactory())
        week = week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)
        people = [factories.driver(market) for _ in range(drivers)]
        for i, driver in enumerate(people):
            for t in range(2):
                at = week.starts_at + timedelta(days=1 + t, hours=1 + i % 20)
                factories.completed_trip(driver=driver, store=store, completed_at=at)
    return market, week, people


def paid_once(payouts: list[Payout]) -> None:
    """Each payout: paid, exactly one transfer under its key, each state entered once."""
    keys = [p.idempotency_key for p in payouts]
    transfers = SandboxTransfer.objects.filter(idempotency_key__in=keys)
    assert transfers.count() == len(payouts)  # 0 double payouts, none missing
    by_key = {t.idempotency_key: t for t in transfers}
    for p in payouts:
        assert p.status == Payout.Status.PAID, (p.id, p.status)
        assert by_key[p.idempotency_key].amount_cents == p.amount_cents
        assert by_key[p.idempotency_key].destination == p.destination
        moves = Counter(PayoutEvent.objects.filter(payout=p).values_list("to_status", flat=True))
        assert moves == {"pending": 1, "submitted": 1, "paid": 1}, moves
    # No other transfer reached these drivers.
    destinations = {p.destination for p in payouts}
    assert SandboxTransfer.objects.filter(destination__in=destinations).count() == len(payouts)
    assert ledger_invariants() == (0, 0)  # the ledger is balanced, transaction by transaction


def _resume_until(done, broker, *, timeout: float, what: str) -> None:
    """Wait for `done()`, sending the resume sweep every second as beat would (every 5 min)."""

    def check() -> bool:
        if done():
            return True
        broker.send_task(RESUME)
        return False

    wait_until(check, timeout=timeout, what=what, step=1.0)


# --- Q1 ----------------------------------------------------------------------------------------


# The fast set kills the whole worker (the visibility-timeout path); M3 kills pool children too.
@pytest.mark.parametrize("kill", ["worker", "pool-child"] if FULL else ["worker"])
def test_q1_worker_killed_mid_task_is_redelivered_and_pays_once(
    kill, procs, app_env, broker, fast_commits, figures
):
    market, week, (driver,) = a_market_with_a_week_of_trips(drivers=1)
    # The week's window, not the minute sweep's lookback (8 days back from now): last week's
    # trips fall out of that one late on some weekdays.
    assert services.earnings_post(since=week.starts_at, until=week.ends_at, wait=True) > 0
    with transaction.atomic():  # what instant pay writes before it enqueues the submission
        account = ledger.driver_account_lock(driver_id=driver.id, currency="USD")
        payout = payout_services.payout_create(
            account=account,
            kind=Payout.Kind.INSTANT,
            period="instant:chaos",
            amount_cents=ledger.account_balance(account),
            fee_cents=0,
            actor=Actor.system("chaos"),
        )
    worker = procs.worker(app_env)
    key = payout.idempotency_key

    # The task sends the transfer, then waits on the cash account to book it: kill it there.
    with row_lock(LOCK_CASH):
        task_id = broker.send_task(SUBMIT, args=[payout.id]).id
        wait_until(
            lambda: (
                SandboxTransfer.objects.filter(idempotency_key=key).exists()
                and chaos_sessions_waiting_on_a_lock()
            ),
            timeout=60,
            what="the task to send the transfer and wait to book it",
        )
        if kill == "worker":
            worker.kill9()
        else:
            worker.kill9_child()
        killed_at = time.monotonic()
        # Sent, not booked: nobody can book it while the test holds the lock.
        assert Payout.objects.get(id=payout.id).status == Payout.Status.PENDING
    if kill == "worker":
        worker = procs.worker(app_env)  # the machine is back; the broker hands the task over
    wait_until(
        lambda: task_log(procs, task_id).succeeded,
        timeout=60,
        what="the task to be redelivered and finish",
        step=0.2,
    )
    log = task_log(procs, task_id)
    redelivered = time.monotonic() - killed_at
    assert log.received == 2, log  # delivered, killed, delivered again
    assert log.succeeded == 1, log
    if kill == "worker":
        assert Payout.objects.get(id=payout.id).status == Payout.Status.PAID
    # A whole worker's task comes back after the visibility timeout, longer than the lease: it
    # finds the transfer by its key and books it. A pool child's task comes back at once; if
    # the dead child's lease has not run out yet, the resume sweep (beat) books it after.
    _resume_until(
        lambda: Payout.objects.get(id=payout.id).status == Payout.Status.PAID,
        broker,
        timeout=60,
        what="the payout to be paid",
    )
    paid_once([Payout.objects.get(id=payout.id)])
    assert SandboxTransfer.objects.count() == 1  # side effects = 1
    assert selectors.balance_for_driver(driver_id=driver.id, currency="USD") == 0
    figures(
        f"Q1 kill={kill} task received={log.received} succeeded={log.succeeded} "
        f"transfers=1 doubles=0 redelivered_and_done_in_s={redelivered:.1f}"
    )


# --- M3 ----------------------------------------------------------------------------------------


def _phase(market, week) -> str:
    """Where the settlement was when it died, from what the database holds."""
    batch = PayoutBatch.objects.filter(market=market, period_start=week.start).first()
    if batch is None:
        return "before the batch"
    payouts = list(Payout.objects.filter(batch=batch))
    sent = SandboxTransfer.objects.filter(
        idempotency_key__in=[p.idempotency_key for p in payouts]
    ).count()
    paid = sum(p.status == Payout.Status.PAID for p in payouts)
    if paid == len(payouts):
        return "after paying" if batch.status == "done" else "paid, batch open"
    if sent == 0:
        return "batch made, nothing sent"
    if sent > paid:
        return "sent, not yet booked"
    return "part paid"


def test_m3_settlement_killed_at_random_points_pays_each_driver_once(
    procs, app_env, broker, fast_commits, figures
):
    trials, drivers = size(2, 20), size(20, 40)
    rng = random.Random(3)
    worker = procs.worker(app_env)

    # One settlement without a kill: how long one takes here sets the range of kill points.
    market, week, people = a_market_with_a_week_of_trips(drivers)
    started = time.monotonic()
    broker.send_task(SETTLE, args=[market.id, week.start.isoformat()])
    batches = PayoutBatch.objects.filter(status="done")
    wait_until(batches.exists, timeout=120, what="a settlement to finish", step=0.05)
    duration = time.monotonic() - started
    paid_once(list(Payout.objects.all()))

    phases, recoveries = Counter(), []
    for trial in range(trials):
        market, week, people = a_market_with_a_week_of_trips(drivers)
        kill = ("pool-child", "worker")[trial % 2]
        broker.send_task(SETTLE, args=[market.id, week.start.isoformat()])
        # Every 4 trials cover (child, worker) x (moment, transfer); the fast pair: (child,
        # moment) and (worker, transfer).
        if (trial + trial // 2) % 2 == 0:  # a random moment of the run
            time.sleep(rng.uniform(0, duration))
        else:  # a random point of the submission: after the k-th transfer
            k = rng.randint(1, drivers)
            sent = SandboxTransfer.objects.filter(
                destination__in=[payout_services.sandbox_destination(d.id) for d in people]
            )
            wait_until(lambda k=k, sent=sent: sent.count() >= k, timeout=60, what="transfers")
        if kill == "worker":
            worker.kill9()
        else:
            worker.kill9_child()
        killed_at = time.monotonic()
        phases[_phase(market, week)] += 1
        if kill == "worker":
            worker = procs.worker(app_env)
        batch = PayoutBatch.objects.filter(market=market, period_start=week.start)

        def settled(batch=batch) -> bool:
            return batch.filter(status="done").exists()

        _resume_until(settled, broker, timeout=120, what=f"trial {trial} to settle")
        recoveries.append(time.monotonic() - killed_at)
        b = batch.get()
        payouts = list(Payout.objects.filter(batch=b))
        assert len(payouts) == b.payouts_count == drivers
        assert {p.driver_id for p in payouts} == {d.id for d in people}
        assert b.total_cents == drivers * PER_DRIVER
        paid_once(payouts)
        for d in people:
            assert selectors.balance_for_driver(driver_id=d.id, currency="USD") == 0

    assert PayoutBatch.objects.count() == trials + 1
    total = SandboxTransfer.objects.aggregate(s=Sum("amount_cents"))["s"]
    assert total == (trials + 1) * drivers * PER_DRIVER
    assert services.reconciliation_run().alerts_count == 0
    figures(
        f"M3 trials={trials} drivers_per_trial={drivers} settle_s={duration:.2f} "
        f"kill_phases={dict(phases)} transfers={SandboxTransfer.objects.count()} doubles=0 "
        f"ledger_sum=0 unbalanced_txns=0 all_paid=True max_recovery_s={max(recoveries):.1f}"
    )
