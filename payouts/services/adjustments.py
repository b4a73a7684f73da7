"""Adjustments by ops: a signed amount with a required reason and an author, posted as an
earnings line and its journal transaction. A repeated form post (same key) is one adjustment."""

from django.db import transaction

from payouts.models import Account, Earning, JournalTransaction
from payouts.services import ledger
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.errors import Unprocessable


@transaction.atomic
def adjustment_create(
    *,
    driver_id: int,
    amount_cents: int,
    currency: str,
    reason: str,
    actor: Actor,
    idempotency_key: str,
) -> Earning:
    if not reason.strip():
        raise Unprocessable("A reason is required.", code="reason_required")
    if actor.user_id is None:
        raise Unprocessable("An adjustment needs a person as its author.", code="author_required")
    if amount_cents == 0:
        raise Unprocessable("The amount cannot be zero.", code="amount_zero")
    external_id = f"adjustment:{idempotency_key}"
    done = JournalTransaction.objects.filter(external_id=external_id).first()
    if done is not None:
        return done.earnings.get()
    # Locked: a negative adjustment takes money out, like a payout.
    account = ledger.driver_account_lock(driver_id=driver_id, currency=currency)
    expense = ledger.platform_account(kind=Account.Kind.DELIVERY_EXPENSE, currency=currency)
    txn = ledger.journal_post(
        external_id=external_id,
        kind=JournalTransaction.Kind.ADJUSTMENT,
        currency=currency,
        lines=[ledger.Line(account, -amount_cents), ledger.Line(expense, amount_cents)],
        actor=actor,
        driver_id=driver_id,
        description="Adjustment",
        reason=reason.strip(),
    )
    now = clock.now()
    return Earning.objects.create(
        kind=Earning.Kind.ADJUSTMENT,
        driver_id=driver_id,
        market_id=account.market_id,
        currency=currency,
        journal_transaction=txn,
        earned_at=now,
        adjustment_cents=amount_cents,
        pay_cents=amount_cents,
        total_cents=amount_cents,
        note=reason.strip(),
        author_id=actor.user_id,
        created_at=now,
    )
