"""The payout provider interface, shaped like a Stripe Connect transfer.

We send one transfer per payout with an idempotency key derived from the payout, so a retry can
never pay twice. The provider answers paid, pending (accepted, not final yet) or failed; when it
gives no trustworthy answer (network, 429, 5xx) it raises `ProviderUnavailable` and the payout
stays pending for the resume sweep, which asks `transfer_find` before sending again.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class ProviderUnavailable(Exception):
    """No answer we can act on; try again later with the same idempotency key."""


@dataclass(frozen=True)
class TransferRequest:
    idempotency_key: str
    destination: str
    amount_cents: int
    currency: str
    description: str = ""


class TransferStatus:
    PAID = "paid"
    PENDING = "pending"
    FAILED = "failed"
    DUPLICATE = "duplicate"  # the key was used before: look the transfer up
    ERROR = "error"  # retryable, no transfer made as far as we know


@dataclass(frozen=True)
class TransferResult:
    idempotency_key: str
    status: str
    transfer_id: str = ""
    failure_reason: str = ""
    amount_cents: int | None = None


@dataclass(frozen=True)
class TransferRecord:
    """A transfer as the provider's books have it (for reconciliation)."""

    transfer_id: str
    idempotency_key: str
    amount_cents: int
    currency: str
    status: str


class PayoutProvider(Protocol):
    name: str

    def batch_size(self, *, lease: timedelta) -> int:
        """How many payouts one worker claims at once: as many as it surely sends, answers
        included, within `lease` (the claim's lease), so no other worker claims them again."""
        ...

    def transfer_many(self, requests: Sequence[TransferRequest]) -> list[TransferResult]: ...

    def transfer_find(self, *, idempotency_key: str) -> TransferResult | None: ...

    def transfers_list(self, *, since: datetime) -> list[TransferRecord]: ...
