"""M1: a Hypothesis state machine over trips completed and cancelled, tips raised and lowered,
adjustments, instant and weekly payouts (some failing) and retries. After every step: each
journal transaction sums to zero, the ledger sums to zero, every driver's payable equals their
earnings lines less their payouts, and no payout ever took a balance below zero.

CI runs 50 examples x 30 steps; RELIABILITY.md's 500 x 50 is `M1_EXAMPLES=500 M1_STEPS=50`.
"""

import os
from collections import defaultdict
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.db.models import Sum
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from orders import services as order_services
from payouts import selectors, services
from payouts.models import Earning, JournalEntry, Payout, SandboxTransfer
from payouts.periods import week_containing
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import ApplicationError
from tests.factories import MarketFactory, MerchantFactory, StoreFactory, UserFactory
from tests.payouts import factories

DRIVERS = 3
START = datetime(2025, 3, 3, 9, 0, tzinfo=ZoneInfo("America/Chicago"))  # a Monday


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.now = START
        self._clock = clock.use_clock(lambda: self.now)
        self._clock.__enter__()
        market = MarketFactory(timezone="America/Chicago")
        factories.rate_card(market, effective_from=START - timedelta(days=400))
        self.market = market
        self.store = StoreFactory(market=market, merchant=MerchantFactory())
        self.drivers = [factories.driver(market) for _ in range(DRIVERS)]
        self.ops = [Actor.user(UserFactory(), "ops") for _ in range(2)]
        self.trips: list = []

    def teardown(self) -> None:
        self._clock.__exit__(None, None, None)
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- the world ----------------------------------------------------------------------

    @rule(hours=st.integers(6, 96))
    def time_passes(self, hours):
        self.now += timedelta(hours=hours)

    @rule(
        d=st.integers(0, DRIVERS - 1),
        tips=st.lists(st.integers(0, 900), min_size=1, max_size=3),
        base=st.integers(0, 1500),
        boost=st.sampled_from([0, 150, 300]),
        returned=st.integers(0, 1),
        wait=st.integers(0, 30),
    )
    def trip_completed(self, d, tips, base, boost, returned, wait):
        trip = factories.completed_trip(
            driver=self.drivers[d],
            store=self.store,
            completed_at=self.now - timedelta(minutes=1),
            tips=tuple(tips),
            base=base,
            boost=boost,
            returned=returned,
            wait_minutes=wait,
        )
        self.trips.append(trip)
        services.earnings_post()

    @rule(d=st.integers(0, DRIVERS - 1), stage=st.sampled_from(["assigned", "at_store"]))
    def trip_cancelled(self, d, stage):
        factories.cancelled_trip(
            driver=self.drivers[d],
            store=self.store,
            stage=stage,
            at=self.now - timedelta(minutes=1),
            waited_minutes=15,
        )
        services.earnings_post()

    @precondition(lambda self: self.trips)
    @rule(i=st.integers(0, 10_000), by=st.integers(1, 500))
    def tip_raised(self, i, by):
        order = self.trips[i % len(self.trips)].stops.filter(status="delivered").first().order
        order_services.order_tip_raise(
            merchant=order.merchant,
            public_id=order.public_id,
            tip_cents=order.tip_cents + by,
            actor=Actor.system("shop"),
        )
        services.earnings_post()

    @precondition(lambda self: self.trips)
    @rule(i=st.integers(0, 10_000), keep=st.floats(0, 0.9))
    def tip_lowered_after_review(self, i, keep):
        order = self.trips[i % len(self.trips)].stops.filter(status="delivered").first().order
        order.refresh_from_db()
        if order.tip_cents == 0:
            return
        review = services.tip_review_request(
            order_id=order.id,
            tip_cents=int(order.tip_cents * keep),
            reason="dispute",
            actor=self.ops[0],
        )
        services.tip_review_decide(review_id=review.id, approve=True, note="ok", actor=self.ops[1])

    @rule(d=st.integers(0, DRIVERS - 1), cents=st.integers(-1500, 1500).filter(bool))
    def adjusted(self, d, cents):
        services.adjustment_create(
            driver_id=self.drivers[d].id,
            amount_cents=cents,
            currency="USD",
            reason="ops",
            actor=self.ops[0],
            idempotency_key=f"{self.now}-{d}-{cents}",
        )

    # --- payouts ------------------------------------------------------------------------

    def _balances(self):
        return {
            d.id: selectors.balance_for_driver(driver_id=d.id, currency="USD") for d in self.drivers
        }

    def _check_payouts_since(self, before, last_id):
        """No payout took more than was owed: its driver's balance stays at or above zero."""
        after = self._balances()
        for p in Payout.objects.filter(id__gt=last_id):
            assert p.amount_cents > 0
            assert p.amount_cents + p.fee_cents <= before[p.driver_id], "paid more than owed"
            assert after[p.driver_id] >= 0, "a payout left a negative balance"

    def _last_payout(self):
        return Payout.objects.order_by("-id").values_list("id", flat=True).first() or 0

    @rule(d=st.integers(0, DRIVERS - 1), fail=st.booleans())
    def instant_pay(self, d, fail):
        before, last = self._balances(), self._last_payout()
        try:
            payout = services.instant_payout_request(
                driver_id=self.drivers[d].id, actor=Actor.system("t")
            )
        except ApplicationError:
            return
        with override_settings(PAYOUTS_SANDBOX_FAIL_WITH="account_closed" if fail else ""):
            services.payouts_submit(payout_ids=[payout.id])
        self._check_payouts_since(before, last)

    @rule(fail=st.booleans())
    def weekly_settlement(self, fail):
        week = week_containing(at=self.now - timedelta(days=7), tz=self.market.timezone)
        before, last = self._balances(), self._last_payout()
        owed_at_end = {
            d: -(
                JournalEntry.objects.filter(
                    account__driver_id=d, transaction__effective_at__lt=week.ends_at
                ).aggregate(s=Sum("amount_cents"))["s"]
                or 0
            )
            for d in before
        }
        with override_settings(PAYOUTS_SANDBOX_FAIL_WITH="account_closed" if fail else ""):
            services.payout_batch_settle(market_id=self.market.id, period_start=week.start)
        self._check_payouts_since(before, last)
        for p in Payout.objects.filter(id__gt=last, kind="weekly"):
            # The week's balance, never more than is owed now (instant pay took some since).
            assert p.amount_cents == min(owed_at_end[p.driver_id], before[p.driver_id])

    @precondition(
        lambda self: Payout.objects.filter(status="failed", retries__isnull=True).exists()
    )
    @rule()
    def failed_payout_retried(self):
        failed = Payout.objects.filter(status="failed", retries__isnull=True).first()
        before, last = self._balances(), self._last_payout()
        try:
            retry = services.payout_retry(payout_id=failed.id, actor=self.ops[0], reason="again")
        except ApplicationError:
            return
        services.payouts_submit(payout_ids=[retry.id])
        self._check_payouts_since(before, last)

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def every_transaction_sums_to_zero(self):
        unbalanced = (
            JournalEntry.objects.values("transaction_id", "currency")
            .annotate(s=Sum("amount_cents"))
            .exclude(s=0)
        )
        assert not unbalanced.exists()

    @invariant()
    def the_ledger_sums_to_zero(self):
        assert (JournalEntry.objects.aggregate(s=Sum("amount_cents"))["s"] or 0) == 0

    @invariant()
    def payable_is_earnings_less_payouts(self):
        earned = defaultdict(
            int, Earning.objects.values_list("driver_id").annotate(s=Sum("total_cents"))
        )
        paid = defaultdict(int)
        for p in Payout.objects.exclude(status="failed"):
            paid[p.driver_id] += p.amount_cents + p.fee_cents
        for d, balance in self._balances().items():
            assert balance == earned[d] - paid[d]

    @invariant()
    def one_transfer_per_paid_payout(self):
        paid = dict(Payout.objects.filter(status="paid").values_list("public_id", "amount_cents"))
        transfers = SandboxTransfer.objects.filter(status="paid")
        assert transfers.count() == len(paid)
        for t in transfers:
            assert paid[UUID(t.idempotency_key.removeprefix("payout-"))] == t.amount_cents


@pytest.mark.django_db
def test_m1_ledger_state_machine():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=int(os.environ.get("M1_EXAMPLES", 50)),
            stateful_step_count=int(os.environ.get("M1_STEPS", 30)),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )
