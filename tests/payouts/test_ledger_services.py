"""The ledger: balanced transactions, append-only rows (M5), reversals, balances as sums."""

# SQL text below is built only from constants and Django-compiled querysets; every value
# is a bound parameter.
# ruff: noqa: S608

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from payouts import selectors, services
from payouts.models import Account, Earning, JournalEntry, JournalTransaction
from payouts.services import ledger
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, Unprocessable
from tests.factories import UserFactory
from tests.payouts import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def posted(city):
    market, store, _ = city
    driver = factories.driver(market)
    factories.completed_trip(driver=driver, store=store, tips=(300,))
    services.earnings_post()
    return driver, JournalEntry.objects.order_by("id").first()


def _raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE payouts_journalentry SET amount_cents = amount_cents + 1 WHERE id = %s",
        "DELETE FROM payouts_journalentry WHERE id = %s",
    ],
)
def test_journal_entry_update_or_delete_raises_and_row_stays_when_raw_sql(posted, sql):
    _, entry = posted
    with pytest.raises(DatabaseError, match="pgtrigger"):
        _raw(sql, [entry.id])
    entry_after = JournalEntry.objects.get(id=entry.id)
    assert entry_after.amount_cents == entry.amount_cents


@pytest.mark.parametrize("table", ["payouts_journaltransaction", "payouts_earning"])
def test_journal_transactions_and_earnings_are_append_only(posted, table):
    with pytest.raises(DatabaseError, match="pgtrigger"):
        _raw(f"DELETE FROM {table}", [])
    with pytest.raises(DatabaseError, match="pgtrigger"):
        _raw(f"UPDATE {table} SET currency = 'EUR'", [])
    assert not JournalTransaction.objects.filter(currency="EUR").exists()


def test_unbalanced_entries_are_refused_by_the_database(posted):
    _, entry = posted
    with pytest.raises(DatabaseError, match="does not balance"):
        _raw(
            "INSERT INTO payouts_journalentry (transaction_id, account_id, amount_cents, currency)"
            " VALUES (%s, %s, 1, 'USD')",
            [entry.transaction_id, entry.account_id],
        )


def test_journal_post_refuses_unbalanced_lines(city):
    cash = ledger.platform_account(kind=Account.Kind.CASH, currency="USD")
    with pytest.raises(Unprocessable):
        ledger.journal_post(
            external_id="x",
            kind="adjustment",
            currency="USD",
            lines=[ledger.Line(cash, 5)],
            actor=Actor.system("test"),
        )


def test_the_same_external_id_posts_once(city):
    cash = ledger.platform_account(kind=Account.Kind.CASH, currency="USD")
    fees = ledger.platform_account(kind=Account.Kind.FEE_INCOME, currency="USD")
    lines = [ledger.Line(cash, 5), ledger.Line(fees, -5)]
    kwargs = {"external_id": "event-1", "kind": "adjustment", "currency": "USD"}
    ledger.journal_post(**kwargs, lines=lines, actor=Actor.system("t"))
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger.journal_post(**kwargs, lines=lines, actor=Actor.system("t"))
    assert JournalTransaction.objects.filter(external_id="event-1").count() == 1


def test_balance_is_the_sum_of_the_entries(posted):
    driver, _ = posted
    account = Account.objects.get(kind="driver_payable", driver=driver)
    total = sum(JournalEntry.objects.filter(account=account).values_list("amount_cents", flat=True))
    assert selectors.balance_for_driver(driver_id=driver.id, currency="USD") == -total == 1150


def test_reversal_posts_the_mirror_and_keeps_the_original(posted):
    driver, _ = posted
    original = JournalTransaction.objects.get(kind="earnings")
    before = list(original.entries.values_list("account_id", "amount_cents"))
    reversal = services.journal_transaction_reverse(
        transaction_id=original.id, actor=Actor.user(UserFactory(), "ops"), reason="wrong trip"
    )
    mirror = sorted((a, -c) for a, c in reversal.entries.values_list("account_id", "amount_cents"))
    assert mirror == sorted(before)
    assert list(original.entries.values_list("account_id", "amount_cents")) == before
    assert selectors.balance_for_driver(driver_id=driver.id, currency="USD") == 0
    # The lines follow: the sub-ledger still agrees with the ledger.
    assert sum(Earning.objects.filter(driver=driver).values_list("total_cents", flat=True)) == 0
    with pytest.raises(Conflict):
        services.journal_transaction_reverse(
            transaction_id=original.id, actor=Actor.system("t"), reason="again"
        )


def test_payout_transactions_are_not_reversed_by_hand(city):
    cash = ledger.platform_account(kind=Account.Kind.CASH, currency="USD")
    transit = ledger.platform_account(kind=Account.Kind.PAYOUTS_IN_TRANSIT, currency="USD")
    txn = ledger.journal_post(
        external_id="payout_paid:1",
        kind="payout_paid",
        currency="USD",
        lines=[ledger.Line(transit, 5), ledger.Line(cash, -5)],
        actor=Actor.system("t"),
    )
    with pytest.raises(Conflict):
        services.journal_transaction_reverse(
            transaction_id=txn.id, actor=Actor.system("t"), reason="no"
        )


def test_adjustment_needs_reason_and_author_and_posts_once_per_key(posted):
    driver, _ = posted
    ops = Actor.user(UserFactory(), "ops")
    kwargs = {"driver_id": driver.id, "amount_cents": -150, "currency": "USD"}
    with pytest.raises(Unprocessable):
        services.adjustment_create(**kwargs, reason=" ", actor=ops, idempotency_key="k")
    with pytest.raises(Unprocessable):
        services.adjustment_create(
            **kwargs, reason="why", actor=Actor.system("x"), idempotency_key="k"
        )
    first = services.adjustment_create(
        **kwargs, reason="Damaged goods", actor=ops, idempotency_key="k"
    )
    again = services.adjustment_create(
        **kwargs, reason="Damaged goods", actor=ops, idempotency_key="k"
    )
    assert first.id == again.id
    assert first.author_id == ops.user_id
    assert first.note == "Damaged goods"
    assert selectors.balance_for_driver(driver_id=driver.id, currency="USD") == 1150 - 150
