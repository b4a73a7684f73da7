"""The double-entry ledger: accounts, posting one journal transaction, reversals.

A journal transaction is written with all its entries in one INSERT statement, so the database
trigger that checks the balance per transaction sees them together. `external_id` is UNIQUE:
posting the same business event twice fails (callers that retry look the first one up).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Sum

from drivers import selectors as driver_selectors
from payouts import _sql
from payouts.models import Account, Earning, JournalEntry, JournalTransaction
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.db import one_or_none
from spark.lib.errors import Conflict, NotFound, Unprocessable

Kind = Account.Kind
REVERSIBLE = frozenset({JournalTransaction.Kind.EARNINGS, JournalTransaction.Kind.ADJUSTMENT})


@dataclass(frozen=True)
class Line:
    account: Account
    amount_cents: int  # debit positive, credit negative


def platform_account(*, kind: str, currency: str) -> Account:
    account, _ = Account.objects.get_or_create(kind=kind, driver=None, currency=currency)
    return account


def platform_accounts(*, currency: str) -> dict[str, Account]:
    kinds = [k for k in Kind.values if k != Kind.DRIVER_PAYABLE]
    return {k: platform_account(kind=k, currency=currency) for k in kinds}


def driver_accounts_open(pairs_sql: str, params: Sequence[object] = ()) -> None:
    """Open the missing payables, in each driver's home market, for the (driver_id, currency)
    rows of a sub-select: one statement, however many drivers (a settlement's 10,000)."""
    drivers_sql, driver_params = _sql.compiled(driver_selectors.driver_home_markets())
    conflict = " ON CONFLICT DO NOTHING" if _sql.is_postgres() else ""
    insert = "INSERT INTO" if _sql.is_postgres() else "INSERT OR IGNORE INTO"
    # A concurrent writer that opens the same payable first wins; this one then skips it.
    # The SQL is built from constants and compiled querysets; values are bound parameters.
    _sql.execute(
        f"""
        {insert} {Account._meta.db_table} (kind, driver_id, market_id, currency, created_at)
        SELECT %s, p.driver_id, d.home_market_id, p.currency, %s
        FROM (SELECT DISTINCT q.driver_id, q.currency FROM ({pairs_sql}) q) p
        LEFT JOIN {drivers_sql} d ON d.id = p.driver_id
        WHERE NOT EXISTS (SELECT 1 FROM {Account._meta.db_table} a WHERE a.kind = %s
                          AND a.driver_id = p.driver_id AND a.currency = p.currency)
        ORDER BY p.driver_id, p.currency{conflict}
        """,  # noqa: S608
        [Kind.DRIVER_PAYABLE, clock.now(), *params, *driver_params, Kind.DRIVER_PAYABLE],
    )


def driver_account(*, driver_id: int, currency: str) -> Account:
    account = one_or_none(
        Account.objects.filter(kind=Kind.DRIVER_PAYABLE, driver_id=driver_id, currency=currency)
    )
    if account is not None:
        return account
    driver_accounts_open(
        "SELECT CAST(%s AS bigint) AS driver_id, CAST(%s AS varchar(3)) AS currency",
        [driver_id, currency],
    )
    return Account.objects.get(kind=Kind.DRIVER_PAYABLE, driver_id=driver_id, currency=currency)


def driver_account_lock(*, driver_id: int, currency: str) -> Account:
    """Lock a driver's payable: everyone who takes money out of it holds this lock, so a
    balance read under it stays true until commit (never below zero at payout)."""
    account = driver_account(driver_id=driver_id, currency=currency)
    return Account.objects.select_for_update().get(id=account.id)


def account_balance(account: Account) -> int:
    """The balance as people read it (what we owe a driver is positive)."""
    total = JournalEntry.objects.filter(account=account).aggregate(s=Sum("amount_cents"))["s"]
    return account.sign * (total or 0)


def journal_post(
    *,
    external_id: str,
    kind: str,
    currency: str,
    lines: Sequence[Line],
    actor: Actor,
    effective_at: datetime | None = None,
    driver_id: int | None = None,
    payout_id: int | None = None,
    description: str = "",
    reason: str = "",
    reverses: JournalTransaction | None = None,
) -> JournalTransaction:
    """One balanced transaction; the caller's @transaction.atomic holds it together."""
    lines = [line for line in lines if line.amount_cents]
    if sum(line.amount_cents for line in lines) != 0:
        raise Unprocessable(f"{external_id} does not balance.", code="unbalanced")
    if any(line.account.currency != currency for line in lines):
        raise Unprocessable(f"{external_id} mixes currencies.", code="currency_mismatch")
    now = clock.now()
    txn = JournalTransaction.objects.create(
        external_id=external_id,
        kind=kind,
        currency=currency,
        driver_id=driver_id,
        payout_id=payout_id,
        effective_at=effective_at or now,
        posted_at=now,
        description=description[:300],
        actor_label=actor.label,
        author_id=actor.user_id,
        reason=reason,
        reverses=reverses,
    )
    JournalEntry.objects.bulk_create(
        [
            JournalEntry(
                transaction=txn,
                account=line.account,
                amount_cents=line.amount_cents,
                currency=currency,
            )
            for line in lines
        ]
    )
    return txn


@transaction.atomic
def journal_transaction_reverse(
    *, transaction_id: int, actor: Actor, reason: str
) -> JournalTransaction:
    """Undo a transaction by posting its mirror image; the original stays as it was."""
    if not reason.strip():
        raise Unprocessable("A reason is required.", code="reason_required")
    original = one_or_none(JournalTransaction.objects.select_for_update().filter(id=transaction_id))
    if original is None:
        raise NotFound("No such journal transaction.")
    if original.kind not in REVERSIBLE:
        raise Conflict(
            f"A {original.kind} transaction is not reversed by hand: payouts move through "
            "their own states, and a reversal is corrected by a new adjustment.",
            code="not_reversible",
        )
    if JournalTransaction.objects.filter(reverses=original).exists():
        raise Conflict("This transaction is already reversed.", code="already_reversed")
    entries = list(original.entries.select_related("account"))
    payable = sorted({e.account_id for e in entries if e.account.kind == Kind.DRIVER_PAYABLE})
    list(Account.objects.select_for_update().filter(id__in=payable).order_by("id"))
    reversal = journal_post(
        external_id=f"reversal:{original.id}",
        kind=JournalTransaction.Kind.REVERSAL,
        currency=original.currency,
        lines=[Line(e.account, -e.amount_cents) for e in entries],
        actor=actor,
        driver_id=original.driver_id,
        description=f"Reversal of {original.external_id}",
        reason=reason.strip(),
        reverses=original,
    )
    _earnings_mirror(original, reversal, reason=reason.strip())
    return reversal


def _earnings_mirror(
    original: JournalTransaction, reversal: JournalTransaction, *, reason: str
) -> None:
    """The earnings lines of a reversed transaction get their opposite, so that the lines and
    the ledger keep agreeing (reconciliation compares them)."""
    now = reversal.posted_at
    Earning.objects.bulk_create(
        [
            Earning(
                kind=Earning.Kind.ADJUSTMENT,
                driver_id=e.driver_id,
                market_id=e.market_id,
                currency=e.currency,
                journal_transaction=reversal,
                earned_at=now,
                adjustment_cents=-e.pay_cents,
                tip_cents=-e.tip_cents,
                pay_cents=-e.pay_cents,
                total_cents=-e.total_cents,
                note=f"Reversal of {e.get_kind_display().lower()} {e.trip_id or ''}: {reason}",
                author_id=reversal.author_id,
                created_at=now,
            )
            for e in original.earnings.all()
        ]
    )
