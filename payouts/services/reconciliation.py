"""Daily reconciliation (RELIABILITY.md section 3, M7): the ledger against itself, against the
earnings lines, against the payouts and against the provider's own books. Any difference, even
one cent, is an alert: a row for the ops report and an ERROR log line (which pages ops)."""

import logging
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q, Sum

from dispatch import selectors as dispatch_selectors
from payouts import _sql, providers
from payouts.models import (
    Earning,
    JournalEntry,
    Payout,
    ReconciliationAlert,
    ReconciliationRun,
)
from payouts.providers import PayoutProvider, ProviderUnavailable
from spark.lib import clock

logger = logging.getLogger("payouts.reconciliation")
PROVIDER_WINDOW = timedelta(days=35)
UNPAID_GRACE = timedelta(hours=1)
EARNING_KINDS = ("earnings", "adjustment", "reversal")
PAYOUT_KINDS = ("payout", "payout_failed")

Found = list[ReconciliationAlert]


def reconciliation_run(*, provider: PayoutProvider | None = None) -> ReconciliationRun:
    run = ReconciliationRun.objects.create(started_at=clock.now())
    alerts: Found = []
    checks = {
        "journal_balanced": _journal_balanced,
        "ledger_total": _ledger_total,
        "earnings_vs_ledger": _earnings_vs_ledger,
        "payouts_vs_ledger": _payouts_vs_ledger,
        "trips_unpaid": _trips_unpaid,
    }
    counts = {}
    for name, check in checks.items():
        counts[name] = check(alerts)
    counts["provider_vs_payouts"] = _provider_vs_payouts(alerts, provider)
    with transaction.atomic():
        for alert in alerts:
            alert.run = run
        ReconciliationAlert.objects.bulk_create(alerts)
        run.checks, run.alerts_count, run.finished_at = counts, len(alerts), clock.now()
        run.save(update_fields=["checks", "alerts_count", "finished_at"])
    for alert in alerts:
        logger.error("reconciliation alert %s: %s", alert.check_name, alert.message)
    return run


def _alert(alerts: Found, check: str, message: str, **kw: object) -> None:
    expected, actual = int(kw.pop("expected", 0)), int(kw.pop("actual", 0))  # type: ignore[call-overload]
    alerts.append(
        ReconciliationAlert(
            check_name=check,
            message=message,
            expected_cents=expected,
            actual_cents=actual,
            difference_cents=actual - expected,
            **kw,  # type: ignore[arg-type]
        )
    )


def _journal_balanced(alerts: Found) -> int:
    rows = _sql.fetchall(
        "SELECT transaction_id, currency, SUM(amount_cents) FROM payouts_journalentry "
        "GROUP BY transaction_id, currency HAVING SUM(amount_cents) <> 0"
    )
    for txn, currency, total in rows:
        _alert(
            alerts,
            "journal_balanced",
            f"journal transaction {txn} sums to {total} {currency}",
            currency=currency,
            subject=f"transaction {txn}",
            actual=total,
        )
    return len(rows)


def _ledger_total(alerts: Found) -> int:
    rows = JournalEntry.objects.values("currency").annotate(total=Sum("amount_cents"))
    for row in rows:
        if row["total"]:
            _alert(
                alerts,
                "ledger_total",
                f"the ledger sums to {row['total']} {row['currency']}",
                currency=row["currency"],
                actual=row["total"],
            )
    return len(rows)


def _payable_by_driver(kinds: tuple[str, ...]) -> dict[tuple[int, str], int]:
    rows = (
        JournalEntry.objects.filter(account__kind="driver_payable", transaction__kind__in=kinds)
        .values(driver=F("account__driver_id"), cur=F("currency"))
        .annotate(total=Sum("amount_cents"))
    )
    return {(r["driver"], r["cur"]): -r["total"] for r in rows}


def _compare(alerts: Found, check: str, expected: dict, actual: dict, what: str) -> int:  # type: ignore[type-arg]
    for key in sorted(set(expected) | set(actual)):
        e, a = expected.get(key, 0), actual.get(key, 0)
        if e != a:
            driver, currency = key
            _alert(
                alerts,
                check,
                f"driver {driver}: {what} {e} {currency}, ledger {a}",
                driver_id=driver,
                currency=currency,
                expected=e,
                actual=a,
            )
    return len(expected)


def _earnings_vs_ledger(alerts: Found) -> int:
    """Every earnings line is in the ledger, and nothing else is credited as earnings."""
    lines = Earning.objects.values("driver_id", "currency").annotate(total=Sum("total_cents"))
    expected = {(r["driver_id"], r["currency"]): r["total"] for r in lines}
    return _compare(
        alerts, "earnings_vs_ledger", expected, _payable_by_driver(EARNING_KINDS), "lines"
    )


def _payouts_vs_ledger(alerts: Found) -> int:
    """Payouts not failed took exactly their amount and fee out of the driver's payable."""
    rows = (
        Payout.objects.exclude(status=Payout.Status.FAILED)
        .values("driver_id", "currency")
        .annotate(total=Sum(F("amount_cents") + F("fee_cents")))
    )
    expected = {(r["driver_id"], r["currency"]): -r["total"] for r in rows}
    return _compare(
        alerts, "payouts_vs_ledger", expected, _payable_by_driver(PAYOUT_KINDS), "payouts"
    )


def _trips_unpaid(alerts: Found) -> int:
    """Completed trips the sweep should have paid by now (e.g. no accepted offer found)."""
    now = clock.now()
    done = dispatch_selectors.trip_queryset().filter(
        status="completed",
        completed_at__lt=now - UNPAID_GRACE,
        completed_at__gte=now - PROVIDER_WINDOW,
    )
    paid = Earning.objects.filter(kind="trip").values("trip_id")
    unpaid = list(done.exclude(id__in=paid).values_list("id", flat=True)[:100])
    for trip_id in unpaid:
        _alert(
            alerts,
            "trips_unpaid",
            f"trip {trip_id} completed but not paid",
            subject=f"trip {trip_id}",
        )
    return len(unpaid)


def _provider_vs_payouts(alerts: Found, provider: PayoutProvider | None) -> int:
    """What the provider transferred matches our paid payouts, key by key, to the cent."""
    provider = provider or providers.get_provider()
    since = clock.now() - PROVIDER_WINDOW
    try:
        records = provider.transfers_list(since=since)
    except ProviderUnavailable as exc:
        _alert(alerts, "provider_vs_payouts", f"provider unreachable: {exc}")
        return 0
    theirs: dict[str, list[int]] = defaultdict(list)
    for r in records:
        if r.status == "paid":
            theirs[r.idempotency_key].append(r.amount_cents)
    ours = {
        p.idempotency_key: p
        for p in Payout.objects.filter(
            Q(paid_at__gte=since) | Q(status__in=Payout.OPEN), provider=provider.name
        )
    }
    for key, p in ours.items():
        amounts = theirs.pop(key, [])
        if p.status == Payout.Status.PAID and amounts != [p.amount_cents]:
            _alert(
                alerts,
                "provider_vs_payouts",
                f"payout {p.id} paid {p.amount_cents}, provider has {amounts or 'nothing'}",
                driver_id=p.driver_id,
                currency=p.currency,
                subject=key,
                expected=p.amount_cents,
                actual=sum(amounts),
            )
    for key, amounts in theirs.items():
        _alert(
            alerts,
            "provider_vs_payouts",
            f"provider transfer {key} ({sum(amounts)}) matches no paid payout",
            subject=key,
            actual=sum(amounts),
        )
    return len(records)
