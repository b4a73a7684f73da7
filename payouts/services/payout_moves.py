"""Applying the provider's answers: the payout state machine, set-based.

Each move is one conditional UPDATE (`... WHERE status = <from> ... RETURNING id`): only the rows
it returns moved, and only those get an event row and a ledger move, in the same transaction.
Two workers applying the same answer move a payout once.
"""

# SQL text below is built only from constants and Django-compiled querysets; every value
# is a bound parameter.
# ruff: noqa: S608

from collections import Counter
from datetime import timedelta

from django.db import transaction

from payouts import _sql
from payouts.models import Account, Payout, PayoutBatch, PayoutEvent
from payouts.providers import TransferResult
from payouts.providers import TransferStatus as TS
from payouts.services import ledger
from spark.lib import clock
from spark.lib.actors import Actor

RESULTS = "payouts_tmp_result"
IDS = "payouts_tmp_ids"
MOVED = "payouts_tmp_moved"
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
S = Payout.Status
SYSTEM = Actor.system("payouts")
EVENT_COLUMNS = ("entity", "entity_id", "payout_id", "from_status", "to_status")
EVENT_COLUMNS += ("actor_label", "at", "note")


def _backoff(attempts: int) -> timedelta:
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


@transaction.atomic
def payouts_apply(
    *, answers: list[tuple[int, int, TransferResult]], actor: Actor = SYSTEM
) -> Counter[str]:
    """answers: (payout id, attempts so far, the provider's answer)."""
    counts: Counter[str] = Counter()
    if not answers:
        return counts
    # The commit does not wait for the disk. The provider's books are the truth here: if a
    # crash loses this transaction, its payouts are still pending, and once their lease ends
    # the next submission asks the provider (same idempotency keys) and applies its answer.
    _sql.commit_without_waiting()
    now = clock.now()
    _sql.temp_table(
        RESULTS,
        "payout_id bigint, status varchar(16), transfer_id varchar(100), reason varchar(300), "
        "next_at timestamp with time zone",
    )
    _sql.insert_rows(
        RESULTS,
        ("payout_id", "status", "transfer_id", "reason", "next_at"),
        [
            (pid, r.status, r.transfer_id, r.failure_reason[:300], now + _backoff(attempts))
            for pid, attempts, r in answers
        ],
    )
    sent = "submitted_at = %s, transfer_id = r.transfer_id"
    # Paid at once (the usual answer): pending -> submitted -> paid in one UPDATE, two events.
    paid = _move(
        S.PENDING, S.PAID, f"r.status = '{TS.PAID}'", f"{sent}, paid_at = %s", via=S.SUBMITTED
    )
    counts["submitted"] = len(paid)
    counts["submitted"] += len(_move(S.PENDING, S.SUBMITTED, f"r.status = '{TS.PENDING}'", sent))
    paid = sorted(paid + _move(S.SUBMITTED, S.PAID, f"r.status = '{TS.PAID}'", "paid_at = %s"))
    _ledger_moves(paid, kind="payout_paid", actor=actor)
    failed = []
    for source in (S.PENDING, S.SUBMITTED):
        failed += _move(
            source,
            S.FAILED,
            f"r.status = '{TS.FAILED}'",
            "failed_at = %s, failure_reason = r.reason, transfer_id = r.transfer_id",
        )
    _ledger_moves(failed, kind="payout_failed", actor=actor)
    counts["paid"], counts["failed"] = len(paid), len(failed)
    # No trustworthy answer: release the lease, try again later (same key).
    counts["retry_later"] = _sql.execute(
        f"""
        UPDATE payouts_payout SET locked_until = NULL, next_attempt_at = r.next_at,
            failure_reason = r.reason, updated_at = %s
        FROM {RESULTS} r
        WHERE payouts_payout.id = r.payout_id AND payouts_payout.status = 'pending'
          AND r.status = '{TS.ERROR}'
        """,
        [now],
    )
    _sql.drop(RESULTS)
    return counts


def _move(
    frm: str, to: str, condition: str, extra: str, *, via: str | None = None, actor: Actor = SYSTEM
) -> list[int]:
    """Move the payouts whose answer meets `condition` from `frm` to `to` (through `via`, each
    step a legal transition with its own event). `extra`'s placeholders are all `now`."""
    steps = [(frm, via), (via, to)] if via else [(frm, to)]
    if not all(b in Payout.TRANSITIONS[a] for a, b in steps):
        raise ValueError(f"payouts do not move {frm} -> {to}")
    now = clock.now()
    moved = sorted(
        pid
        for (pid,) in _sql.fetchall(
            f"""
            UPDATE payouts_payout SET status = %s, status_changed_at = %s, updated_at = %s,
                locked_until = NULL, {extra}
            FROM {RESULTS} r
            WHERE payouts_payout.id = r.payout_id AND payouts_payout.status = %s AND {condition}
            RETURNING payouts_payout.id
            """,
            [to, now, now, *[now] * extra.count("%s"), frm],
        )
    )
    if moved:
        # One event per step of each payout that moved, written by the database from the ids.
        _sql.temp_table(MOVED, "id bigint")
        _sql.insert_rows(MOVED, ("id",), [(pid,) for pid in moved])
        for a, b in steps:
            note = "p.failure_reason" if b == S.FAILED else "''"
            _sql.execute(
                f"""
                INSERT INTO payouts_payoutevent ({", ".join(EVENT_COLUMNS)})
                SELECT 'payout', p.id, p.id, %s, %s, %s, %s, {note}
                FROM payouts_payout p JOIN {MOVED} m ON m.id = p.id ORDER BY p.id
                """,
                [a, b, actor.label, now],
            )
        _sql.drop(MOVED)
    return moved


def _ledger_moves(ids: list[int], *, kind: str, actor: Actor) -> None:
    """payout_paid: in transit -> cash. payout_failed: in transit (and the fee) -> back to the
    driver's payable. One transaction per payout, external id `<kind>:<payout id>`."""
    if not ids:
        return
    for currency in set(Payout.objects.filter(id__in=ids).values_list("currency", flat=True)):
        ledger.platform_accounts(currency=currency)
    _sql.temp_table(IDS, "id bigint")
    _sql.insert_rows(IDS, ("id",), [(i,) for i in ids])
    now = clock.now()
    _sql.execute(
        f"""
        INSERT INTO payouts_journaltransaction (external_id, kind, driver_id, payout_id, currency,
            effective_at, posted_at, description, actor_label, reason)
        SELECT %s || CAST(p.id AS varchar(20)), %s, p.driver_id, p.id, p.currency, %s, %s,
            %s, %s, ''
        FROM payouts_payout p JOIN {IDS} i ON i.id = p.id
        """,
        [f"{kind}:", kind, now, now, kind.replace("_", " "), actor.label],
    )

    def leg(amount: str, platform: str | None) -> tuple[str, list[str]]:
        """One entry per payout: on a platform account of its currency, or on the driver's
        own payable (the payout's account) when `platform` is None."""
        join, account, params = "", "p.account_id", []
        if platform is not None:
            join = (
                "JOIN payouts_account a ON a.driver_id IS NULL AND a.currency = p.currency "
                "AND a.kind = %s "
            )
            account, params = "a.id", [platform]
        sql = (
            f"SELECT j.id, {account}, {amount}, p.currency FROM payouts_payout p "
            f"JOIN {IDS} i ON i.id = p.id "
            f"JOIN payouts_journaltransaction j ON j.payout_id = p.id AND j.kind = '{kind}' "
            f"{join}WHERE {amount} <> 0"
        )
        return sql, params

    if kind == "payout_paid":
        legs = [
            leg("p.amount_cents", Account.Kind.PAYOUTS_IN_TRANSIT),
            leg("-p.amount_cents", Account.Kind.CASH),
        ]
    else:
        legs = [
            leg("p.amount_cents", Account.Kind.PAYOUTS_IN_TRANSIT),
            leg("p.fee_cents", Account.Kind.FEE_INCOME),
            leg("-(p.amount_cents + p.fee_cents)", None),
        ]
    # One statement: the balance trigger sees each transaction whole.
    _sql.execute(
        "INSERT INTO payouts_journalentry (transaction_id, account_id, amount_cents, currency) "
        + " UNION ALL ".join(sql for sql, _ in legs),
        [p for _, params in legs for p in params],
    )
    _sql.drop(IDS)


def payout_batches_finish() -> int:
    """A batch whose payouts are all paid or failed is done (a conditional UPDATE each)."""
    now, done = clock.now(), 0
    ready = PayoutBatch.objects.filter(status=PayoutBatch.Status.CREATED).exclude(
        payouts__status__in=Payout.OPEN
    )
    for batch_id in ready.values_list("id", flat=True):
        with transaction.atomic():
            moved = PayoutBatch.objects.filter(
                id=batch_id, status=PayoutBatch.Status.CREATED
            ).update(status=PayoutBatch.Status.DONE, finished_at=now, updated_at=now)
            if moved:
                PayoutEvent.objects.create(
                    entity=PayoutEvent.Entity.BATCH,
                    entity_id=batch_id,
                    from_status=PayoutBatch.Status.CREATED,
                    to_status=PayoutBatch.Status.DONE,
                    actor_label=SYSTEM.label,
                    at=now,
                )
                done += 1
    return done
