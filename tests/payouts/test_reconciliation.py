"""M7: reconciliation finds a one-cent discrepancy anywhere, and nothing on clean books."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payouts import services
from payouts.models import Earning, JournalTransaction, SandboxTransfer
from payouts.periods import week_containing
from tests.payouts import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(city):
    market, store, _ = city
    week = week_containing(at=timezone.now() - timedelta(days=7), tz=market.timezone)
    drivers = [factories.driver(market) for _ in range(2)]
    for d in drivers:
        factories.completed_trip(
            driver=d, store=store, completed_at=week.starts_at + timedelta(days=2)
        )
    services.payout_batch_settle(market_id=market.id, period_start=week.start)
    return drivers


def test_clean_books_raise_no_alert(settled):
    run = services.reconciliation_run()
    assert run.alerts_count == 0
    assert run.checks["provider_vs_payouts"] == 2


def test_one_cent_at_the_provider_raises_an_alert(settled, monkeypatch):
    from payouts.services import reconciliation

    paged = []
    monkeypatch.setattr(reconciliation.logger, "error", lambda *args: paged.append(args))
    transfer = SandboxTransfer.objects.first()
    SandboxTransfer.objects.filter(id=transfer.id).update(amount_cents=transfer.amount_cents + 1)
    run = services.reconciliation_run()
    assert run.alerts_count == 1
    alert = run.alerts.get()
    assert (alert.check_name, alert.difference_cents) == ("provider_vs_payouts", 1)
    assert paged  # an ERROR log line: what pages ops


def test_one_cent_line_missing_from_the_ledger_raises_an_alert(settled):
    driver = settled[0]
    txn = JournalTransaction.objects.filter(kind="earnings").first()
    Earning.objects.create(
        kind="adjustment",
        driver=driver,
        market=driver.home_market,
        currency="USD",
        journal_transaction=txn,
        earned_at=timezone.now(),
        adjustment_cents=1,
        pay_cents=1,
        total_cents=1,
    )
    run = services.reconciliation_run()
    assert [(a.check_name, a.difference_cents) for a in run.alerts.all()] == [
        ("earnings_vs_ledger", -1)
    ]


def test_a_transfer_nobody_asked_for_raises_an_alert(settled):
    SandboxTransfer.objects.create(
        idempotency_key="payout-unknown",
        transfer_id="tr_x",
        destination="acct_x",
        amount_cents=1,
        currency="USD",
        status="paid",
        created_at=timezone.now(),
    )
    run = services.reconciliation_run()
    assert run.alerts.get().check_name == "provider_vs_payouts"


def test_completed_trip_left_unpaid_raises_an_alert(city):
    market, store, _ = city
    trip = factories.completed_trip(
        driver=factories.driver(market),
        store=store,
        completed_at=timezone.now() - timedelta(hours=3),
    )
    trip.offers.update(status="declined")  # no accepted offer: the sweep cannot price it
    services.earnings_post()
    run = services.reconciliation_run()
    assert [a.check_name for a in run.alerts.all()] == ["trips_unpaid"]
