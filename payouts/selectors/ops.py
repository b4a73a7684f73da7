"""Reads for ops: a driver's ledger, payout batches and failures, the yearly tax summary,
reconciliation runs."""

from dataclasses import dataclass

from django.db.models import Count, QuerySet, Sum

from orders import selectors as order_selectors
from payouts.models import (
    Account,
    Earning,
    JournalEntry,
    Payout,
    PayoutBatch,
    ReconciliationRun,
)
from payouts.periods import year_bounds


@dataclass(frozen=True)
class LedgerLine:
    entry: JournalEntry
    balance_cents: int  # the account's balance after this entry, as people read it


@dataclass(frozen=True)
class DriverLedger:
    accounts: list[Account]
    balances: dict[int, int]
    lines: list[LedgerLine]


def ledger_for_driver(*, driver_id: int, limit: int = 500) -> DriverLedger:
    accounts = list(Account.objects.filter(driver_id=driver_id).order_by("currency"))
    entries = list(
        JournalEntry.objects.filter(account__in=accounts)
        .select_related("transaction", "account")
        .order_by("transaction__posted_at", "id")
    )
    running: dict[int, int] = {}
    lines = []
    for e in entries:
        running[e.account_id] = running.get(e.account_id, 0) + e.account.sign * e.amount_cents
        lines.append(LedgerLine(e, running[e.account_id]))
    return DriverLedger(accounts, running, lines[-limit:][::-1])


def payout_list_failed() -> QuerySet[Payout]:
    return Payout.objects.filter(status=Payout.Status.FAILED, retries__isnull=True).order_by("-id")


def payout_batch_list() -> QuerySet[PayoutBatch]:
    return PayoutBatch.objects.order_by("-period_start", "market_id")


@dataclass(frozen=True)
class TaxRow:
    driver_id: int
    name: str
    email: str
    currency: str
    pay_cents: int
    tip_cents: int
    trips: int

    @property
    def compensation_cents(self) -> int:
        """Nonemployee compensation: everything paid for the work, tips included."""
        return self.pay_cents + self.tip_cents


def tax_summary(*, year: int, threshold_cents: int) -> list[TaxRow]:
    """Per driver, the year's earnings (in the time zone of the market they are settled in),
    for drivers at or above the reporting threshold."""
    rows: list[TaxRow] = []
    for market in order_selectors.market_list(active_only=False):
        starts, ends = year_bounds(year=year, tz=market.timezone)
        drivers = Account.objects.filter(kind="driver_payable", market=market).values("driver_id")
        totals = (
            Earning.objects.filter(driver_id__in=drivers, earned_at__gte=starts, earned_at__lt=ends)
            .values(
                "driver_id",
                "currency",
                "driver__user__first_name",
                "driver__user__last_name",
                "driver__user__email",
            )
            .annotate(pay=Sum("pay_cents"), tip=Sum("tip_cents"), trips=Count("trip_id"))
            .order_by("driver_id")
        )
        for t in totals:
            row = TaxRow(
                t["driver_id"],
                f"{t['driver__user__first_name']} {t['driver__user__last_name']}".strip(),
                t["driver__user__email"],
                t["currency"],
                t["pay"] or 0,
                t["tip"] or 0,
                t["trips"],
            )
            if row.compensation_cents >= threshold_cents:
                rows.append(row)
    return rows


def tax_summary_csv_rows(*, year: int, rows: list[TaxRow]) -> list[list[str]]:
    header = ["year", "driver_id", "name", "email", "currency", "nonemployee_compensation"]
    out = [header + ["pay", "tips", "trips"]]
    for r in rows:
        cents = [r.compensation_cents, r.pay_cents, r.tip_cents]
        out.append(
            [str(year), str(r.driver_id), r.name, r.email, r.currency]
            + [f"{c / 100:.2f}" for c in cents]
            + [str(r.trips)]
        )
    return out


def reconciliation_run_list(*, limit: int = 30) -> QuerySet[ReconciliationRun]:
    return ReconciliationRun.objects.prefetch_related("alerts").order_by("-started_at")[:limit]
