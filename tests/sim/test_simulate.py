"""A small simulated day (40 orders, 10 drivers, 1.5 hours) run twice with the same seed: once
through `manage.py simulate`, once through the Python API. Both days stay in one transaction that
is rolled back after this module (the ledger is append-only, so nothing could delete them).

Positions go to the database rather than Redis here: the test Redis database is shared by test
runs whose databases reuse the same market and driver ids, and a stranger's position would leak in.
The seed is one whose day has customer cancellations, an undeliverable order and alcohol.
"""

import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Sum
from django.test import override_settings

from dispatch.models import Offer, Trip
from dispatch.services import availability
from orders.models import Market, Order, OrderEvent
from payouts.models import Account, JournalEntry, Payout, PayoutBatch
from spark.sim import report
from spark.sim.runner import DAY, Params, Simulation

# Every test reads the module's days (the marker also makes pytest-django set up the database).
pytestmark = pytest.mark.django_db

DAY_ARGS = {"orders": 40, "drivers": 10, "hours": 1.5, "seed": 13}
CLI_ARGS = [f"--{k}={v}" for k, v in DAY_ARGS.items()]


def _facts(slug: str) -> dict:
    """What the tests check, read straight from the rows the services wrote."""
    market = Market.objects.get(slug=slug)
    orders = Order.objects.filter(store__market=market)
    trips = Trip.objects.filter(market=market, driver__isnull=False).exclude(assigned_at=None)
    accounts = Account.objects.filter(driver__home_market=market, kind="driver_payable")
    touched = JournalEntry.objects.filter(account__in=accounts).values("transaction_id")
    sums = (
        JournalEntry.objects.filter(transaction_id__in=touched)
        .values("transaction_id", "currency")
        .annotate(total=Sum("amount_cents"))
    )
    return {
        "statuses": list(orders.values_list("status", flat=True)),
        "trip_spans": [
            (t.driver_id, t.assigned_at, t.completed_at or t.status_changed_at)
            for t in trips.order_by("driver_id", "assigned_at")
        ],
        "txn_totals": [row["total"] for row in sums],
        "event_days": {
            at.astimezone(ZoneInfo(market.timezone)).date()
            for at in OrderEvent.objects.filter(order__in=orders).values_list("at", flat=True)
        },
        "open_offers": Offer.objects.filter(trip__market=market, status="open").count(),
        "batch": PayoutBatch.objects.filter(market=market).values("status", "total_cents").first(),
        "payouts_paid": Payout.objects.filter(batch__market=market, status="paid").count(),
    }


@pytest.fixture(scope="module")
def days(django_db_setup, django_db_blocker, tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    availability._redis.cache_clear()
    with (
        django_db_blocker.unblock(),
        override_settings(REDIS_URL=""),
        transaction.atomic(),
    ):
        stdout = io.StringIO()
        call_command(  # also solving every round with greedy, offering nothing from it
            "simulate",
            *CLI_ARGS,
            "--paired-greedy",
            "--out",
            str(out),
            "--no-progress",
            stdout=stdout,
        )
        first = json.loads((out / "report.json").read_text())
        sim = Simulation(Params(**DAY_ARGS))
        sim.run()
        second = report.public(report.build(sim))
        yield {
            "out": out,
            "stdout": stdout.getvalue(),
            "first": first,
            "second": second,
            "facts": _facts(first["run"]["market"]),
        }
        transaction.set_rollback(True)
    availability._redis.cache_clear()


def test_every_order_ends_in_a_final_state(days):
    statuses = days["facts"]["statuses"]
    assert len(statuses) == DAY_ARGS["orders"]
    assert set(statuses) <= set(Order.FINAL)
    assert days["first"]["orders"]["not_final"] == 0
    assert days["facts"]["open_offers"] == 0


def test_no_driver_is_on_two_trips_at_once(days):
    spans = days["facts"]["trip_spans"]
    assert spans, "the day had no trips"
    for (driver, _, end), (next_driver, start, _) in zip(spans, spans[1:], strict=False):
        if driver == next_driver:
            assert end <= start, f"driver {driver} starts a trip at {start} before {end}"


def test_every_journal_transaction_of_the_day_balances(days):
    totals = days["facts"]["txn_totals"]
    assert totals, "nothing was posted to the ledger"
    assert all(total == 0 for total in totals)
    ledger = days["first"]["ledger"]
    assert ledger["unbalanced"] == 0
    assert ledger["sum_cents"] == 0


def test_the_week_is_settled_and_every_driver_who_earned_is_paid(days):
    batch, earnings = days["facts"]["batch"], days["first"]["earnings"]
    assert batch["status"] == "done"
    assert batch["total_cents"] == earnings["total_cents"] > 0
    assert days["facts"]["payouts_paid"] == earnings["drivers_paid"] > 0


def test_report_counts_add_up(days):
    r = days["first"]
    o, offers = r["orders"], r["offers"]
    assert o["created"] == o["planned"] == DAY_ARGS["orders"]
    assert o["delivered"] + o["cancelled"] + o["returned_to_store"] == o["created"]
    assert o["cancelled_by_customer"] + o["unassigned"] == o["cancelled"]
    assert o["cancelled_by_customer"] >= 1  # the seed's day has both paths
    assert o["returned_to_store"] == 1
    answered = offers["accepted"] + offers["declined"] + offers["expired"]
    assert answered + offers["withdrawn"] == offers["made"] == r["dispatch"]["offers_made"]
    assert offers["accepted"] == len(days["facts"]["trip_spans"])  # one trip per accept
    assert offers["trips_completed"] <= offers["accepted"]
    assert sum(r["hourly"]["created"]) == o["created"]
    assert sum(r["hourly"]["delivered"]) == o["delivered"]
    assert r["driving"]["engaged_hours"] <= r["driving"]["online_hours"]
    assert 0 < r["service"]["on_time_rate"] <= 1


def _without_paired(r: dict) -> dict:
    out = {k: v for k, v in report.deterministic(r).items() if k != "paired_greedy"}
    out["run"] = {k: v for k, v in out["run"].items() if k != "paired_greedy"}
    return out


def test_same_seed_gives_the_same_report(days):
    """The same day, whether or not greedy also solved each round in the shadow (it offers
    nothing, so the day cannot differ)."""
    first, second = days["first"], days["second"]
    assert first["run"]["market"] != second["run"]["market"]  # two separate runs
    assert (first["run"]["paired_greedy"], second["run"]["paired_greedy"]) == (True, False)
    assert _without_paired(first) == _without_paired(second)


def test_paired_greedy_compares_both_answers_on_every_round_that_assigned(days):
    paired, rounds = days["first"]["paired_greedy"], days["first"]["dispatch"]["rounds"]
    assert 0 < paired["rounds"] <= rounds
    assert paired["orders_assigned"] > 0
    assert paired["greedy_orders_assigned"] > 0
    assert paired["ratio"] == pytest.approx(
        paired["pickup_km_per_order"] / paired["greedy_pickup_km_per_order"], abs=1e-3
    )
    assert 0 <= paired["rounds_further"] <= paired["rounds"]
    assert days["second"]["paired_greedy"] is None
    assert "this policy / greedy on the same rounds (paired)" in days["stdout"]


def test_services_run_in_simulated_time(days):
    """Every order event happened on the simulated day, not today (the injected clock)."""
    assert days["facts"]["event_days"] == {DAY}


def test_report_files_are_written(days):
    out: Path = days["out"]
    for name in ("orders_by_hour.png", "assignment_latency.png", "earnings.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "report.md").read_text()
    assert "| orders delivered / cancelled / unassigned |" in markdown
    assert "| dispatch round wall p50 / p95 / max |" in markdown
    assert markdown in days["stdout"]
    assert json.loads((out / "report.json").read_text()) == days["first"]


@pytest.mark.parametrize(
    "args",
    [
        ("--hours", "15"),
        ("--orders", "0"),
        ("--market", "atlantis"),
        ("--round-seconds", "1"),
    ],
)
def test_simulate_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("simulate", *args, "--no-progress")
