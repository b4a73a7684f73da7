"""Payouts: pending -> submitted -> paid | failed, each move a conditional UPDATE (the row count
decides) with its event row and ledger move in the same transaction.

A payout is created together with its ledger move (driver payable -> payouts in transit) in one
transaction, so it is the outbox of the transfer. Submission then runs in three steps, and no
network call happens inside a database transaction (RELIABILITY.md, Airbnb's Orpheus):
1. claim: a conditional UPDATE leases pending payouts to this worker (attempts + 1);
2. send: the provider gets one transfer per payout, idempotency key = the payout's UUID; a
   payout claimed before (a crashed worker, a lease that ran out) is first looked up;
3. apply: the provider's answers move the payouts, set-based, in one transaction.
A worker killed anywhere leaves either a pending payout (sent again under the same key, or found)
or a finished one: never a second transfer, never money in two places.
"""

# SQL text below is built only from constants and Django-compiled querysets; every value
# is a bound parameter.
# ruff: noqa: S608

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from dispatch import selectors as dispatch_selectors
from drivers import selectors as driver_selectors
from payouts import _sql, providers, tasks
from payouts.models import Account, DriverPayoutAccount, Payout, PayoutEvent
from payouts.providers import (
    PayoutProvider,
    ProviderUnavailable,
    TransferRequest,
    TransferResult,
)
from payouts.providers import TransferStatus as TS
from payouts.services import ledger
from payouts.services.payout_moves import payout_batches_finish, payouts_apply
from spark.lib import clock
from spark.lib import sql as lib_sql
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, InvalidTransition, NotFound, Unprocessable

logger = logging.getLogger(__name__)

# How long a claimed payout stays with its worker. Shorter than the broker's visibility
# timeout, so a settlement redelivered after its worker died finds the payouts free (Q4).
LEASE: timedelta = getattr(settings, "PAYOUTS_SUBMIT_LEASE", timedelta(minutes=5))
S = Payout.Status
SYSTEM = Actor.system("payouts")


# --- creating one payout --------------------------------------------------------------------


def destination_for(*, driver_id: int) -> str:
    account = DriverPayoutAccount.objects.filter(driver_id=driver_id).first()
    if account is not None:
        return account.external_account_id
    return sandbox_destination(driver_id) if settings.PAYOUTS_PROVIDER == "sandbox" else ""


SANDBOX_DESTINATION_PREFIX = "acct_sandbox_"


@transaction.atomic
def payout_account_set(
    *, driver_id: int, provider: str, external_account_id: str
) -> DriverPayoutAccount:
    """Where the driver's payouts go at the provider (a Stripe Connect account id)."""
    if not external_account_id.strip():
        raise Unprocessable("An account id is required.", code="account_required")
    account, _ = DriverPayoutAccount.objects.update_or_create(
        driver_id=driver_id,
        defaults={"provider": provider, "external_account_id": external_account_id.strip()},
    )
    return account


def sandbox_destination(driver_id: int) -> str:
    return f"{SANDBOX_DESTINATION_PREFIX}{driver_id}"


def payout_create(
    *,
    account: Account,
    kind: str,
    period: str,
    amount_cents: int,
    fee_cents: int,
    actor: Actor,
    retry_of: Payout | None = None,
    note: str = "",
) -> Payout:
    """A pending payout and its ledger move. The caller holds the account's lock and checked
    the balance; the caller's transaction commits both or neither."""
    now = clock.now()
    payout = Payout.objects.create(
        driver_id=account.driver_id,
        account=account,
        kind=kind,
        period=period,
        amount_cents=amount_cents,
        fee_cents=fee_cents,
        currency=account.currency,
        status=S.PENDING,
        status_changed_at=now,
        provider=settings.PAYOUTS_PROVIDER,
        destination=destination_for(driver_id=account.driver_id),
        retry_of=retry_of,
    )
    platform = ledger.platform_accounts(currency=account.currency)
    ledger.journal_post(
        external_id=f"payout:{payout.id}",
        kind="payout",
        currency=account.currency,
        lines=[
            ledger.Line(account, payout.debit_cents),
            ledger.Line(platform[Account.Kind.PAYOUTS_IN_TRANSIT], -amount_cents),
            ledger.Line(platform[Account.Kind.FEE_INCOME], -fee_cents),
        ],
        actor=actor,
        driver_id=account.driver_id,
        payout_id=payout.id,
        description=f"{payout.get_kind_display()} payout {period}",
    )
    _event(payout, from_status="", to_status=S.PENDING, actor=actor, note=note)
    return payout


def _event(payout: Payout, *, from_status: str, to_status: str, actor: Actor, note: str) -> None:
    PayoutEvent.objects.create(
        entity=PayoutEvent.Entity.PAYOUT,
        entity_id=payout.id,
        payout=payout,
        from_status=from_status,
        to_status=to_status,
        actor_label=actor.label,
        actor_id=actor.user_id,
        at=clock.now(),
        note=note,
    )


def _submit_after_commit(payout_id: int) -> None:
    transaction.on_commit(lambda: _submit_soon(payout_id))


def _submit_soon(payout_id: int) -> None:
    """Best effort: the payout is committed and pending, and the resume sweep sends any that
    was not enqueued, so a broker that is down must not turn it into an error (Q2)."""
    try:
        tasks.payout_submit.delay(payout_id)
    except Exception as exc:
        logger.warning("could not enqueue payout %s (%s); the resume sweep will", payout_id, exc)


@transaction.atomic
def instant_payout_request(*, driver_id: int, actor: Actor) -> Payout:
    """Cash out the whole balance now, for the rate card's fee, once per local day (of the
    driver's home market)."""
    market = driver_selectors.driver_get(driver_id=driver_id).home_market
    currency, now = market.currency, clock.now()
    day = now.astimezone(ZoneInfo(market.timezone)).date()
    fee = dispatch_selectors.rate_card_for(market_id=market.id, at=now).instant_pay_fee_cents
    account = ledger.driver_account_lock(driver_id=driver_id, currency=currency)
    period = f"instant:{day.isoformat()}"
    if Payout.objects.filter(driver_id=driver_id, period=period, currency=currency).exists():
        raise Conflict(
            "Instant pay is available once a day; it resets at midnight.",
            code="instant_pay_used_today",
        )
    balance = ledger.account_balance(account)
    if balance <= fee:
        raise Unprocessable(
            "Your balance does not cover the instant pay fee.",
            code="balance_too_low",
            extra={"balance_cents": balance, "fee_cents": fee},
        )
    payout = payout_create(
        account=account,
        kind=Payout.Kind.INSTANT,
        period=period,
        amount_cents=balance - fee,
        fee_cents=fee,
        actor=actor,
    )
    _submit_after_commit(payout.id)
    return payout


@transaction.atomic
def payout_retry(*, payout_id: int, actor: Actor, reason: str) -> Payout:
    """Ops send a failed payout again: a new payout (its own key) of what is still owed."""
    if not reason.strip():
        raise Unprocessable("A reason is required.", code="reason_required")
    failed = Payout.objects.filter(id=payout_id).select_related("account").first()
    if failed is None:
        raise NotFound("No such payout.")
    if failed.status != S.FAILED:
        raise InvalidTransition("Only a failed payout is retried.", current_status=failed.status)
    account = ledger.driver_account_lock(driver_id=failed.driver_id, currency=failed.currency)
    if Payout.objects.filter(retry_of=failed).exclude(status=S.FAILED).exists():
        raise Conflict("This payout was already retried.", code="already_retried")
    amount = min(failed.amount_cents, ledger.account_balance(account))
    if amount <= 0:
        raise Unprocessable("Nothing is owed to this driver now.", code="balance_too_low")
    attempt = Payout.objects.filter(retry_of=failed).count() + 1
    payout = payout_create(
        account=account,
        kind=Payout.Kind.RETRY,
        period=f"{failed.period}:retry{attempt}",
        amount_cents=amount,
        fee_cents=0,
        actor=actor,
        retry_of=failed,
        note=reason.strip(),
    )
    _submit_after_commit(payout.id)
    return payout


# --- submitting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    amount_cents: int
    currency: str
    destination: str
    attempts: int


def _claim(*, payout_ids: Sequence[int] | None, batch_id: int | None, limit: int) -> list[Claimed]:
    """Lease up to `limit` due pending payouts to this worker (a conditional UPDATE)."""
    now = clock.now()
    free = "status = 'pending' AND (locked_until IS NULL OR locked_until < %s)"
    # A payout whose last attempt met an unavailable provider waits for its next attempt.
    scope, params = "AND (next_attempt_at IS NULL OR next_attempt_at <= %s)", [now]
    if batch_id is not None:
        scope, params = scope + " AND batch_id = %s", [*params, batch_id]
    if payout_ids is not None:
        marks = ", ".join(["%s"] * len(payout_ids)) or "NULL"
        scope, params = scope + f" AND id IN ({marks})", [*params, *payout_ids]
    with transaction.atomic():
        rows = _sql.fetchall(
            f"""
            UPDATE payouts_payout SET locked_until = %s, attempts = attempts + 1, updated_at = %s
            WHERE id IN (SELECT id FROM payouts_payout WHERE {free} {scope}
                         ORDER BY id LIMIT %s)
              AND {free}
            RETURNING id, public_id, amount_cents, currency, destination, attempts
            """,
            [now + LEASE, now, now, *params, limit, now],
        )
    return [
        Claimed(r[0], f"payout-{lib_sql.as_uuid(r[1])}", r[2], r[3], r[4], r[5])
        for r in sorted(rows)
    ]


def _find(provider: PayoutProvider, key: str) -> TransferResult | None:
    try:
        return provider.transfer_find(idempotency_key=key)
    except ProviderUnavailable as exc:
        return TransferResult(key, TS.ERROR, failure_reason=str(exc)[:300])


def _send(provider: PayoutProvider, claimed: list[Claimed]) -> list[tuple[Claimed, TransferResult]]:
    """Outside any transaction. A payout claimed before may have reached the provider: ask."""
    answers: list[tuple[Claimed, TransferResult]] = []
    fresh = []
    for c in claimed:
        found = _find(provider, c.key) if c.attempts > 1 else None
        if found is None:
            fresh.append(c)
        else:
            answers.append((c, found))
    requests = [
        TransferRequest(c.key, c.destination, c.amount_cents, c.currency, "Spark driver payout")
        for c in fresh
    ]
    try:
        sent = provider.transfer_many(requests)
    except ProviderUnavailable as exc:
        sent = [
            TransferResult(r.idempotency_key, TS.ERROR, failure_reason=str(exc)) for r in requests
        ]
    for c, result in zip(fresh, sent, strict=True):
        if result.status == TS.DUPLICATE:
            result = _find(provider, c.key) or TransferResult(
                c.key, TS.ERROR, failure_reason="key used before, transfer not found"
            )
        answers.append((c, result))
    return answers


def payouts_submit(
    *,
    payout_ids: Sequence[int] | None = None,
    batch_id: int | None = None,
    provider: PayoutProvider | None = None,
) -> Counter[str]:
    """Send pending payouts (these, a batch's, or every due one) and apply the answers."""
    provider = provider or providers.get_provider()
    counts: Counter[str] = Counter()
    chunk = settings.PAYOUTS_SUBMIT_CHUNK or provider.batch_size(lease=LEASE)
    while True:
        claimed = _claim(payout_ids=payout_ids, batch_id=batch_id, limit=chunk)
        if not claimed:
            break
        answers = [(c.id, c.attempts, r) for c, r in _send(provider, claimed)]
        counts.update(payouts_apply(answers=answers))
        if payout_ids is not None:
            break
    return counts


def payouts_resume(*, provider: PayoutProvider | None = None) -> Counter[str]:
    """The sweep that finishes what a crash or an outage left: pending payouts are sent (or
    found) again under their own keys, submitted ones are asked about, done batches close."""
    provider = provider or providers.get_provider()
    counts = payouts_submit(provider=provider)
    stale = Payout.objects.filter(
        status=S.SUBMITTED, status_changed_at__lt=clock.now() - LEASE
    ).order_by("id")[:1000]
    answers = []
    for payout in stale:
        found = _find(provider, payout.idempotency_key)
        if found is not None and found.status in (TS.PAID, TS.FAILED):
            answers.append((payout.id, payout.attempts, found))
    counts.update(payouts_apply(answers=answers))
    counts["batches_done"] = payout_batches_finish()
    return counts
