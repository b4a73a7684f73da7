"""Payouts: the ledger (accounts, journal transactions, entries), earnings lines, tip reviews,
payout batches and payouts, reconciliation (RELIABILITY.md section 3).

Money is integer cents plus an ISO currency. An entry's `amount_cents` is signed: a debit is
positive, a credit negative, so every journal transaction sums to zero and so does the ledger.
Ledger rows and earnings lines are append-only, enforced by database triggers (pgtrigger); a
correction is a new row (a reversal or an adjustment), and a balance is a sum.
"""

import uuid
from typing import ClassVar

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

from spark.lib.models import BaseModel


def _append_only(name: str) -> list[pgtrigger.Trigger]:
    """Row triggers that refuse UPDATE and DELETE, even from raw SQL (M5)."""
    return [
        pgtrigger.Protect(name=f"{name}_no_update", operation=pgtrigger.Update),
        pgtrigger.Protect(name=f"{name}_no_delete", operation=pgtrigger.Delete),
    ]


# --- the ledger -----------------------------------------------------------------------------


class AccountKind(models.TextChoices):
    DRIVER_PAYABLE = "driver_payable", "Payable to a driver"
    DELIVERY_EXPENSE = "delivery_expense", "Platform delivery expense"
    TIPS_PAYABLE = "tips_payable", "Tips payable"
    PAYOUTS_IN_TRANSIT = "payouts_in_transit", "Payouts in transit"
    CASH = "cash", "Cash"
    FEE_INCOME = "fee_income", "Instant pay fees"


class Account(models.Model):
    """A ledger account: one payable per driver and currency, one of each platform account per
    currency. Its balance is the sum of its entries; the row itself only serialises writers
    that take money out of a driver's payable (payouts, negative adjustments), who lock it."""

    Kind = AccountKind
    # Liabilities and income grow with credits: their balance is shown as minus the sum.
    CREDIT_NORMAL: ClassVar[frozenset[str]] = frozenset(
        {Kind.DRIVER_PAYABLE, Kind.TIPS_PAYABLE, Kind.PAYOUTS_IN_TRANSIT, Kind.FEE_INCOME}
    )

    kind = models.CharField(max_length=24, choices=Kind.choices)
    driver = models.ForeignKey(
        "drivers.Driver", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Where a driver's payable is settled: the driver's home market when the account opened.
    market = models.ForeignKey(
        "orders.Market", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["driver", "currency"],
                condition=Q(kind="driver_payable"),
                name="one_payable_per_driver_and_currency",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(driver__isnull=True),
                name="one_platform_account_per_kind_and_currency",
            ),
            models.CheckConstraint(
                condition=Q(kind="driver_payable", driver__isnull=False)
                | (~Q(kind="driver_payable") & Q(driver__isnull=True)),
                name="account_driver_iff_payable",
            ),
            models.CheckConstraint(condition=Q(kind__in=AccountKind.values), name="account_kind"),
        ]
        indexes: ClassVar = [models.Index(fields=["market", "kind"], name="account_market_kind")]

    def __str__(self) -> str:
        who = f" driver {self.driver_id}" if self.driver_id else ""
        return f"{self.get_kind_display()}{who} ({self.currency})"

    @property
    def sign(self) -> int:
        """Multiply a sum of entries by this to get the balance as people read it."""
        return -1 if self.kind in self.CREDIT_NORMAL else 1


class JournalTransactionKind(models.TextChoices):
    EARNINGS = "earnings"  # trips, cancellations, tip changes, guarantees and floors
    ADJUSTMENT = "adjustment"  # by ops, with a reason and an author
    PAYOUT = "payout"  # driver payable -> payouts in transit (+ instant pay fee)
    PAYOUT_PAID = "payout_paid"  # payouts in transit -> cash
    PAYOUT_FAILED = "payout_failed"  # the money goes back to the driver's payable
    REVERSAL = "reversal"


class JournalTransaction(models.Model):
    """One money movement. `external_id` names the business event, so that posting it twice is
    impossible (UNIQUE), however many workers retry."""

    Kind = JournalTransactionKind

    external_id = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    driver = models.ForeignKey(
        "drivers.Driver", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payout = models.ForeignKey(
        "Payout", on_delete=models.PROTECT, null=True, blank=True, related_name="transactions"
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    currency = models.CharField(max_length=3)
    effective_at = models.DateTimeField(help_text="When the business event happened.")
    posted_at = models.DateTimeField()
    description = models.CharField(max_length=300, blank=True)
    actor_label = models.CharField(max_length=100)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.TextField(blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(kind__in=JournalTransactionKind.values), name="journal_kind"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["driver", "-posted_at"], name="journal_driver_posted"),
        ]
        triggers: ClassVar = _append_only("journal_txn")

    def __str__(self) -> str:
        return self.external_id


class JournalEntry(models.Model):
    transaction = models.ForeignKey(
        JournalTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount_cents = models.BigIntegerField(help_text="Debit positive, credit negative.")
    currency = models.CharField(max_length=3)

    class Meta:
        verbose_name_plural = "journal entries"
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(amount_cents=0), name="entry_not_zero"),
        ]
        indexes: ClassVar = [
            # Balances are sums per account: an index-only scan.
            models.Index(fields=["account"], include=["amount_cents"], name="entry_account_amount"),
        ]
        triggers: ClassVar = [
            *_append_only("journal_entry"),
            # Every statement that inserts entries must leave each transaction it touched
            # balanced per currency. Services write a transaction's entries in one statement.
            pgtrigger.Trigger(
                name="journal_entry_balanced",
                operation=pgtrigger.Insert,
                when=pgtrigger.After,
                level=pgtrigger.Statement,
                referencing=pgtrigger.Referencing(new="new_entries"),
                func=pgtrigger.Func(
                    """
                    DECLARE bad RECORD;
                    BEGIN
                    SELECT e.transaction_id, e.currency, SUM(e.amount_cents) AS total INTO bad
                      FROM {meta.db_table} e
                     WHERE e.transaction_id IN (SELECT DISTINCT transaction_id FROM new_entries)
                     GROUP BY e.transaction_id, e.currency
                    HAVING SUM(e.amount_cents) <> 0
                     LIMIT 1;
                    IF FOUND THEN
                      RAISE EXCEPTION 'journal transaction % does not balance: % %',
                        bad.transaction_id, bad.total, bad.currency
                        USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NULL;
                    END;
                    """
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.account_id} {self.amount_cents:+d}"


# --- earnings: the driver's side of the ledger, line by line ---------------------------------


class EarningKind(models.TextChoices):
    TRIP = "trip"
    CANCELLATION = "cancellation"
    TIP_CHANGE = "tip_change"
    BLOCK_GUARANTEE = "block_guarantee"
    FLOOR_TOPUP = "floor_topup"
    ADJUSTMENT = "adjustment"


def _loose_fk(to: str, *, null: bool = False, db_index: bool = False) -> models.ForeignKey:  # type: ignore[type-arg]
    return models.ForeignKey(
        to,
        on_delete=models.PROTECT,
        null=null,
        blank=null,
        related_name="+",
        db_index=db_index,
        db_constraint=False,
    )


def _cents() -> models.BigIntegerField:
    # A database default, so that the set-based sweep may leave lines that do not apply out.
    return models.BigIntegerField(db_default=0)


class Earning(models.Model):
    """What a driver earned for one business event, line by line, beside the offer's promise.

    Append-only. Posted to the ledger in the same transaction as the journal transaction it
    points to (one per driver and sweep), so that the lines and the ledger always agree.
    """

    Kind = EarningKind
    PAY_LINES: ClassVar[tuple[str, ...]] = (
        "base_cents",
        "distance_cents",
        "time_cents",
        "extra_stops_cents",
        "boost_cents",
        "wait_cents",
        "return_cents",
        "cancellation_cents",
        "guarantee_cents",
        "adjustment_cents",
    )

    kind = models.CharField(max_length=16, choices=Kind.choices)
    seq = models.PositiveSmallIntegerField(db_default=0, help_text="Tip changes count up.")
    # The foreign keys below are not enforced by the database (db_constraint=False): a line is
    # written only by a statement that reads the rows it points to, the rows are never deleted
    # (Django's PROTECT still refuses), and each enforced key costs ~1 s per million lines in
    # referential checks at commit (P9). Reconciliation compares the lines with the ledger.
    driver = _loose_fk("drivers.Driver", db_index=False)  # (driver, earned_at) serves it
    market = _loose_fk("orders.Market")
    currency = models.CharField(max_length=3)
    trip = _loose_fk("dispatch.Trip", null=True)  # the unique (trip, kind, seq) index serves it
    offer = _loose_fk("dispatch.Offer", null=True)
    block_reservation = _loose_fk("dispatch.BlockReservation", null=True)
    period_start = models.DateField(null=True, blank=True, help_text="Floor top-ups: the week.")
    journal_transaction = models.ForeignKey(
        JournalTransaction,
        on_delete=models.PROTECT,
        related_name="earnings",
        db_index=False,
        db_constraint=False,
    )
    earned_at = models.DateTimeField()
    base_cents = _cents()
    distance_cents = _cents()
    time_cents = _cents()
    extra_stops_cents = _cents()
    boost_cents = _cents()
    wait_cents = _cents()
    return_cents = _cents()
    cancellation_cents = _cents()
    guarantee_cents = _cents()
    adjustment_cents = _cents()
    tip_cents = _cents()
    pay_cents = models.BigIntegerField(help_text="Every line but the tip.")
    total_cents = models.BigIntegerField()
    promised_pay_cents = models.BigIntegerField(null=True, blank=True)
    promised_tip_cents = models.BigIntegerField(null=True, blank=True)
    engaged_seconds = models.IntegerField(db_default=0)
    wait_minutes = models.IntegerField(db_default=0)
    returned_stops = models.SmallIntegerField(db_default=0)
    cancel_stage = models.CharField(max_length=16, blank=True, db_default="")
    note = models.TextField(blank=True, db_default="")
    # Loose too: every line but an adjustment has none, and the database would still check
    # each of a million NULLs at commit (0.3-0.6 s per 500,000 lines).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["trip", "kind", "seq"],
                condition=Q(trip__isnull=False),
                name="one_earning_per_trip_event",
            ),
            models.UniqueConstraint(
                fields=["block_reservation"],
                condition=Q(kind="block_guarantee"),
                name="one_guarantee_per_block_reservation",
            ),
            models.UniqueConstraint(
                fields=["driver", "market", "period_start"],
                condition=Q(kind="floor_topup"),
                name="one_floor_topup_per_driver_week",
            ),
            models.CheckConstraint(condition=Q(kind__in=EarningKind.values), name="earning_kind"),
            models.CheckConstraint(
                condition=Q(
                    pay_cents=F("base_cents")
                    + F("distance_cents")
                    + F("time_cents")
                    + F("extra_stops_cents")
                    + F("boost_cents")
                    + F("wait_cents")
                    + F("return_cents")
                    + F("cancellation_cents")
                    + F("guarantee_cents")
                    + F("adjustment_cents")
                ),
                name="earning_pay_is_the_sum_of_its_lines",
            ),
            models.CheckConstraint(
                condition=Q(total_cents=F("pay_cents") + F("tip_cents")),
                name="earning_total_is_pay_plus_tip",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["driver", "earned_at"], name="earning_driver_earned"),
            models.Index(
                fields=["block_reservation"],
                condition=Q(block_reservation__isnull=False),
                name="earning_block_reservation",
            ),
        ]
        triggers: ClassVar = _append_only("earning")

    def __str__(self) -> str:
        return f"{self.kind} {self.trip_id or ''} driver {self.driver_id}: {self.total_cents}"

    @property
    def pay_difference_cents(self) -> int:
        return self.pay_cents - (self.promised_pay_cents or 0)


# --- tips -----------------------------------------------------------------------------------


class TipReview(models.Model):
    """A request to lower a tip after the driver accepted the trip. Ops decide, with a reason
    the driver sees; approving lowers the order's tip and posts the difference to the ledger."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.PENDING: frozenset({Status.APPROVED, Status.REJECTED}),
        Status.APPROVED: frozenset(),
        Status.REJECTED: frozenset(),
    }

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    trip = models.ForeignKey(
        "dispatch.Trip", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    driver = models.ForeignKey(
        "drivers.Driver", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3)
    from_tip_cents = models.BigIntegerField()
    to_tip_cents = models.BigIntegerField()
    reason = models.TextField()
    requested_by_label = models.CharField(max_length=100)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(status="pending"), name="one_pending_tip_review"
            ),
            models.CheckConstraint(
                condition=Q(to_tip_cents__gte=0) & Q(to_tip_cents__lt=F("from_tip_cents")),
                name="tip_review_lowers_the_tip",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "rejected"]),
                name="tip_review_status",
            ),
        ]

    def __str__(self) -> str:
        return f"tip review {self.order_id}: {self.from_tip_cents} -> {self.to_tip_cents}"


# --- payouts --------------------------------------------------------------------------------


class PayoutBatch(BaseModel):
    """One market's weekly settlement. UNIQUE(market, period_start): a second run is a no-op."""

    class Status(models.TextChoices):
        CREATED = "created"  # payouts and their ledger moves committed; submitting
        DONE = "done"  # every payout paid or failed

    market = models.ForeignKey("orders.Market", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField(help_text="Monday of the week, in the market's time zone.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    payouts_count = models.PositiveIntegerField(default=0)
    total_cents = models.BigIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "payout batches"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["market", "period_start"], name="one_batch_per_market_week"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["created", "done"]), name="payout_batch_status"
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.market_id} week of {self.period_start}"


class PayoutStatus(models.TextChoices):
    PENDING = "pending"  # created with its ledger move; not yet accepted by the provider
    SUBMITTED = "submitted"  # the provider has the transfer
    PAID = "paid"
    FAILED = "failed"  # the money went back to the driver's balance


# Audit (A10): each insert and update leaves a PayoutHistory row with its actor
# (spark.lib.audit), from the ORM or raw SQL alike.
@pghistory.track(
    pghistory.InsertEvent(trigger_name="history_insert"),
    # Every UPDATE of a payout is recorded: each one changes it (updated_at at least), and
    # the "only when something changed" condition would join the statement's old and new rows.
    pghistory.UpdateEvent(trigger_name="history_update", condition=None),
    obj_field=pghistory.ObjForeignKey(related_name="history", db_index=True),
    model_name="PayoutHistory",
    # Statement-level: settlement moves thousands of payouts per UPDATE, and one INSERT ..
    # SELECT from the statement's transition table records them all (a row trigger cost
    # ~0.1 ms per payout per move, P9).
    level=pghistory.Statement,
)
class Payout(BaseModel):
    Status = S = PayoutStatus
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        S.PENDING: frozenset({S.SUBMITTED, S.FAILED}),
        S.SUBMITTED: frozenset({S.PAID, S.FAILED}),
        S.PAID: frozenset(),
        S.FAILED: frozenset(),
    }
    OPEN: ClassVar[frozenset[str]] = frozenset({S.PENDING, S.SUBMITTED})

    class Kind(models.TextChoices):
        WEEKLY = "weekly"
        INSTANT = "instant"
        RETRY = "retry"

    # Every index is paid for on each of a payout's moves (a status change is never a HOT
    # update), so the foreign keys whose lookups another index already serves go without:
    # driver by one_payout_per_driver_period and payout_driver_recent, batch by
    # payout_batch_status; accounts are never deleted nor payouts looked up by account.
    created_at = models.DateTimeField(auto_now_add=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    driver = models.ForeignKey(
        "drivers.Driver", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="payouts", db_index=False
    )
    batch = models.ForeignKey(
        PayoutBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payouts",
        db_index=False,
    )
    retry_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retries",
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    period = models.CharField(max_length=64, help_text="weekly:<monday>, instant:<local day>…")
    amount_cents = models.BigIntegerField(help_text="What the driver receives.")
    fee_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    destination = models.CharField(max_length=100, blank=True)
    transfer_id = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["driver", "period", "currency"], name="one_payout_per_driver_period"
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gt=0) & Q(fee_cents__gte=0), name="payout_amounts"
            ),
            models.CheckConstraint(
                condition=Q(status__in=PayoutStatus.values), name="payout_status_valid"
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "submitted"]),
                name="payout_open_due",
            ),
            models.Index(fields=["driver", "-created_at"], name="payout_driver_recent"),
            models.Index(fields=["batch", "status"], name="payout_batch_status"),
            models.Index(
                fields=["retry_of"], condition=Q(retry_of__isnull=False), name="payout_retry_of"
            ),
        ]

    def __str__(self) -> str:
        return f"payout {self.public_id} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """What the provider sees: one key per payout, whoever submits it and how often."""
        return f"payout-{self.public_id}"

    @property
    def debit_cents(self) -> int:
        return self.amount_cents + self.fee_cents


class PayoutEvent(models.Model):
    """The audit row of every payout, batch and tip review transition."""

    class Entity(models.TextChoices):
        PAYOUT = "payout"
        BATCH = "batch"
        TIP_REVIEW = "tip_review"

    entity = models.CharField(max_length=16, choices=Entity.choices)
    entity_id = models.BigIntegerField()
    payout = models.ForeignKey(
        Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    actor_label = models.CharField(max_length=100)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["entity", "entity_id"], name="payout_event_entity"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.entity_id}: {self.from_status} -> {self.to_status}"


class DriverPayoutAccount(BaseModel):
    """Where a driver's money goes at the provider (a Stripe Connect account id)."""

    driver = models.OneToOneField(
        "drivers.Driver", on_delete=models.PROTECT, related_name="payout_account"
    )
    provider = models.CharField(max_length=32)
    external_account_id = models.CharField(max_length=100)

    def __str__(self) -> str:
        return f"{self.provider}:{self.external_account_id}"


class SandboxTransfer(models.Model):
    """The sandbox provider's own books: what it was asked to transfer, once per key."""

    idempotency_key = models.CharField(max_length=100, unique=True)
    transfer_id = models.CharField(max_length=100, unique=True)
    destination = models.CharField(max_length=100)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16)
    failure_reason = models.CharField(max_length=300, blank=True)
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.transfer_id} {self.amount_cents} {self.currency} ({self.status})"


# --- reconciliation (M7) --------------------------------------------------------------------


class ReconciliationRun(models.Model):
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    checks = models.JSONField(default=dict, help_text="{check: rows compared}")
    alerts_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"reconciliation {self.started_at:%Y-%m-%d %H:%M} ({self.alerts_count} alerts)"


class ReconciliationAlert(models.Model):
    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="alerts")
    check_name = models.CharField(max_length=64)
    currency = models.CharField(max_length=3, blank=True)
    driver = models.ForeignKey(
        "drivers.Driver", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(max_length=200, blank=True)
    expected_cents = models.BigIntegerField(default=0)
    actual_cents = models.BigIntegerField(default=0)
    difference_cents = models.BigIntegerField(default=0)
    message = models.TextField()

    def __str__(self) -> str:
        return f"{self.check_name}: {self.difference_cents:+d} {self.currency}"
