"""The payouts app's only public write API. Other code imports this module, never the parts."""

from payouts.services.adjustments import adjustment_create
from payouts.services.earnings import earnings_post, floor_topups_post, tip_changes_post
from payouts.services.ledger import (
    account_balance,
    driver_account,
    journal_post,
    journal_transaction_reverse,
)
from payouts.services.payout_moves import payout_batches_finish, payouts_apply
from payouts.services.payouts import (
    instant_payout_request,
    payout_account_set,
    payout_retry,
    payouts_resume,
    payouts_submit,
)
from payouts.services.reconciliation import reconciliation_run
from payouts.services.settlement import payout_batch_settle, payout_batches_settle_due
from payouts.services.tips import tip_review_decide, tip_review_request

__all__ = [
    "account_balance",
    "adjustment_create",
    "driver_account",
    "earnings_post",
    "floor_topups_post",
    "instant_payout_request",
    "journal_post",
    "journal_transaction_reverse",
    "payout_account_set",
    "payout_batch_settle",
    "payout_batches_finish",
    "payout_batches_settle_due",
    "payout_retry",
    "payouts_apply",
    "payouts_resume",
    "payouts_submit",
    "reconciliation_run",
    "tip_changes_post",
    "tip_review_decide",
    "tip_review_request",
]
