"""Weekly settlement per market, in the market's time zone (weeks start on Monday 00:00).

Every step is idempotent and resumable, so running it twice, at once, or again after a crash pays
nobody twice (M2-M4):
1. post every earning of the week (the sweep, waiting for a running one) and the floor top-ups;
2. in ONE transaction, under an advisory lock and UNIQUE(market, week): the batch, a payout per
   driver owed money (UNIQUE(driver, period)) and each payout's ledger move, set-based;
3. submit the batch's pending payouts (services.payouts): a crash here leaves pending payouts,
   which the next run or the resume sweep sends again under the same idempotency keys.
"""

# SQL text below is built only from constants and Django-compiled querysets; every value
# is a bound parameter.
# ruff: noqa: S608

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction

from dispatch import selectors as dispatch_selectors
from orders import selectors as order_selectors
from payouts import _sql, tasks
from payouts.models import Account, PayoutBatch, PayoutEvent
from payouts.periods import Week, week_containing, week_of
from payouts.services import earnings, ledger
from payouts.services.payouts import (
    SANDBOX_DESTINATION_PREFIX,
    payout_batches_finish,
    payouts_submit,
)
from spark.lib import clock
from spark.lib.actors import Actor
from spark.lib.db import one_or_none, try_advisory_xact_lock
from spark.lib.errors import NotFound, Unprocessable

SETTLE = "payouts_tmp_settle"
SYSTEM = Actor.system("payouts.settlement")


def payout_batch_settle(*, market_id: int, period_start: date) -> PayoutBatch | None:
    """Settle one market's week. Returns the batch, or None when another run is creating it."""
    market = order_selectors.market_get(market_id=market_id)
    week = week_of(day=period_start, tz=market.timezone)
    if week.ends_at > clock.now():
        raise Unprocessable("That week is not over yet.", code="week_not_over")
    _earnings_post(since=week.starts_at - settings.PAYOUTS_SWEEP_LOOKBACK, until=week.ends_at)
    _floor_topups(market_id=market_id, week=week)
    batch = _batch_create(market_id=market_id, currency=market.currency, week=week)
    if batch is None:
        return None
    payouts_submit(batch_id=batch.id)
    payout_batches_finish()
    batch.refresh_from_db()
    return batch


def _earnings_post(*, since: datetime, until: datetime) -> int:
    """The week's earnings, PAYOUTS_SETTLE_WORKERS ranges of drivers side by side."""
    return earnings.earnings_post_sharded(
        since=since, until=until, workers=settings.PAYOUTS_SETTLE_WORKERS
    )


def _floor_topups(*, market_id: int, week: Week) -> int:
    try:
        card = dispatch_selectors.rate_card_for(
            market_id=market_id, at=week.ends_at - timedelta(microseconds=1)
        )
    except NotFound:
        return 0
    if not card.hourly_floor_cents:
        return 0
    return earnings.floor_topups_post(
        market_id=market_id,
        week_start=week.starts_at,
        week_end=week.ends_at,
        period_start=week.start,
        floor=card.hourly_floor_cents,
    )


@transaction.atomic
def _batch_create(*, market_id: int, currency: str, week: Week) -> PayoutBatch | None:
    if not try_advisory_xact_lock(f"payouts:settle:{market_id}:{week.start}"):
        return None  # a concurrent run is creating this batch (M4): nothing to do here
    existing = one_or_none(PayoutBatch.objects.filter(market_id=market_id, period_start=week.start))
    if existing is not None:
        return existing  # created before: the caller resumes its submission
    now = clock.now()
    batch = PayoutBatch.objects.create(
        market_id=market_id,
        period_start=week.start,
        starts_at=week.starts_at,
        ends_at=week.ends_at,
        currency=currency,
    )
    # Instant pay, retries and negative adjustments of these drivers wait until we commit.
    list(
        Account.objects.select_for_update()
        .filter(kind=Account.Kind.DRIVER_PAYABLE, market_id=market_id)
        .order_by("id")
        .values_list("id", flat=True)
    )
    currencies = _amounts_stage(market_id=market_id, week=week)
    for c in currencies:
        ledger.platform_accounts(currency=c)
    _payouts_insert(batch=batch, week=week, now=now)
    _payout_ledger_insert(batch=batch, now=now)
    _events_insert(batch=batch, now=now)
    totals = _sql.fetchall(
        "SELECT COUNT(*), COALESCE(SUM(amount_cents), 0) FROM payouts_payout WHERE batch_id = %s",
        [batch.id],
    )[0]
    batch.payouts_count, batch.total_cents = totals
    batch.save(update_fields=["payouts_count", "total_cents", "updated_at"])
    _sql.drop(SETTLE)
    return batch


def _amounts_stage(*, market_id: int, week: Week) -> set[str]:
    """What each driver settled here is owed: the balance at the end of the week, but never
    more than the balance now (an instant payout since has taken some of it)."""
    _sql.temp_table(
        SETTLE, "account_id bigint, driver_id bigint, currency varchar(3), amount bigint"
    )
    _sql.execute(
        f"""
        INSERT INTO {SETTLE} (account_id, driver_id, currency, amount)
        SELECT b.account_id, b.driver_id, b.currency,
            CASE WHEN b.total > b.as_of THEN -b.total ELSE -b.as_of END
        FROM (
            SELECT a.id AS account_id, a.driver_id, a.currency, SUM(e.amount_cents) AS total,
                SUM(CASE WHEN j.effective_at < %s THEN e.amount_cents ELSE 0 END) AS as_of
            FROM payouts_account a
            JOIN payouts_journalentry e ON e.account_id = a.id
            JOIN payouts_journaltransaction j ON j.id = e.transaction_id
            WHERE a.kind = 'driver_payable' AND a.market_id = %s
            GROUP BY a.id, a.driver_id, a.currency
        ) b
        WHERE b.total < 0 AND b.as_of < 0
        """,
        [week.ends_at, market_id],
    )
    return {c for (c,) in _sql.fetchall(f"SELECT DISTINCT currency FROM {SETTLE}")}


def _payouts_insert(*, batch: PayoutBatch, week: Week, now: datetime) -> None:
    sandbox = settings.PAYOUTS_PROVIDER == "sandbox"
    prefix = SANDBOX_DESTINATION_PREFIX
    fallback = f"'{prefix}' || CAST(s.driver_id AS varchar(20))" if sandbox else "''"
    _sql.execute(
        f"""
        INSERT INTO payouts_payout (public_id, driver_id, account_id, batch_id, kind, period,
            amount_cents, fee_cents, currency, status, status_changed_at, provider, destination,
            transfer_id, failure_reason, attempts, created_at, updated_at)
        SELECT {_sql.new_uuid()}, s.driver_id, s.account_id, %s, 'weekly', %s, s.amount, 0,
            s.currency, 'pending', %s, %s, COALESCE(d.external_account_id, {fallback}), '', '',
            0, %s, %s
        FROM {SETTLE} s
        LEFT JOIN payouts_driverpayoutaccount d ON d.driver_id = s.driver_id
        """,
        [batch.id, week.period, now, settings.PAYOUTS_PROVIDER, now, now],
    )


def _payout_ledger_insert(*, batch: PayoutBatch, now: datetime) -> None:
    _sql.execute(
        """
        INSERT INTO payouts_journaltransaction (external_id, kind, driver_id, payout_id, currency,
            effective_at, posted_at, description, actor_label, reason)
        SELECT 'payout:' || CAST(p.id AS varchar(20)), 'payout', p.driver_id, p.id, p.currency,
            %s, %s, 'Weekly payout ' || p.period, %s, ''
        FROM payouts_payout p WHERE p.batch_id = %s
        """,
        [now, now, SYSTEM.label, batch.id],
    )
    base = (
        "FROM payouts_payout p JOIN payouts_journaltransaction j "
        "ON j.payout_id = p.id AND j.kind = 'payout' "
    )
    _sql.execute(
        f"""
        INSERT INTO payouts_journalentry (transaction_id, account_id, amount_cents, currency)
        SELECT j.id, p.account_id, p.amount_cents, p.currency {base} WHERE p.batch_id = %s
        UNION ALL
        SELECT j.id, a.id, -p.amount_cents, p.currency {base}
        JOIN payouts_account a ON a.kind = 'payouts_in_transit' AND a.driver_id IS NULL
            AND a.currency = p.currency
        WHERE p.batch_id = %s
        """,
        [batch.id, batch.id],
    )


def _events_insert(*, batch: PayoutBatch, now: datetime) -> None:
    _sql.execute(
        """
        INSERT INTO payouts_payoutevent (entity, entity_id, payout_id, from_status, to_status,
            actor_label, at, note)
        SELECT 'payout', p.id, p.id, '', 'pending', %s, %s, '' FROM payouts_payout p
        WHERE p.batch_id = %s
        """,
        [SYSTEM.label, now, batch.id],
    )
    PayoutEvent.objects.create(
        entity=PayoutEvent.Entity.BATCH,
        entity_id=batch.id,
        from_status="",
        to_status=PayoutBatch.Status.CREATED,
        actor_label=SYSTEM.label,
        at=now,
    )


def payout_batches_settle_due() -> list[tuple[int, str]]:
    """Beat (hourly): every active market whose last local week ended without a batch gets a
    settlement task. Returns the (market, week) pairs enqueued."""
    now, due = clock.now(), []
    for market in order_selectors.market_list(active_only=True):
        this_week = week_containing(at=now, tz=market.timezone)
        last = this_week.start - timedelta(days=7)
        exists = PayoutBatch.objects.filter(market_id=market.id, period_start=last).exists()
        if not exists:
            tasks.payout_batch_settle.delay(market.id, last.isoformat())
            due.append((market.id, last.isoformat()))
    return due
