"""The sandbox provider: its own table of transfers, one per idempotency key.

It pays at once, refuses a key it has seen before (so a double submission shows up as a
`duplicate`, never as a second transfer), and can be told to fail: every transfer
(PAYOUTS_SANDBOX_FAIL_WITH), or those to some destinations.
"""

# SQL text below is built only from constants and Django-compiled querysets; every value
# is a bound parameter.
# ruff: noqa: S608

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from payouts import _sql
from payouts.models import SandboxTransfer
from payouts.providers.base import TransferRecord, TransferRequest, TransferResult, TransferStatus
from spark.lib import clock

COLUMNS = (
    "idempotency_key",
    "transfer_id",
    "destination",
    "amount_cents",
    "currency",
    "status",
    "failure_reason",
    "description",
    "created_at",
)


class SandboxProvider:
    name = "sandbox"

    def __init__(self, *, fail_with: str = "", fail_destinations: Iterable[str] = ()) -> None:
        self.fail_with = fail_with
        self.fail_destinations = set(fail_destinations)

    def batch_size(self, *, lease: timedelta) -> int:
        return 10_000  # three INSERTs into our own database, whatever the count

    def _failure(self, request: TransferRequest) -> str:
        if self.fail_with:
            return self.fail_with
        if request.destination in self.fail_destinations:
            return "account_closed"
        if not request.destination:
            return "no payout account"
        return ""

    def transfer_many(self, requests: Sequence[TransferRequest]) -> list[TransferResult]:
        now = clock.now()
        rows, answers = [], {}
        for r in requests:
            reason = self._failure(r)
            status = TransferStatus.FAILED if reason else TransferStatus.PAID
            transfer_id = f"tr_sbx_{uuid.uuid4().hex[:24]}"
            rows.append(
                (r.idempotency_key, transfer_id, r.destination, r.amount_cents, r.currency)
                + (status, reason, r.description[:300], now)
            )
            answers[r.idempotency_key] = TransferResult(
                r.idempotency_key, status, transfer_id, reason, r.amount_cents
            )
        accepted = self._insert(rows)
        return [
            answers[r.idempotency_key]
            if r.idempotency_key in accepted
            else TransferResult(r.idempotency_key, TransferStatus.DUPLICATE)
            for r in requests
        ]

    def _insert(self, rows: list[tuple]) -> set[str]:  # type: ignore[type-arg]
        """INSERT .. ON CONFLICT DO NOTHING: the keys it returns are the new transfers."""
        accepted: set[str] = set()
        one = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
        for start in range(0, len(rows), 2000):
            chunk = rows[start : start + 2000]
            found = _sql.fetchall(
                f"INSERT INTO payouts_sandboxtransfer ({', '.join(COLUMNS)}) "
                f"VALUES {', '.join([one] * len(chunk))} "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
                [v for row in chunk for v in row],
            )
            accepted.update(k for (k,) in found)
        return accepted

    def transfer_find(self, *, idempotency_key: str) -> TransferResult | None:
        t = SandboxTransfer.objects.filter(idempotency_key=idempotency_key).first()
        if t is None:
            return None
        return TransferResult(
            t.idempotency_key, t.status, t.transfer_id, t.failure_reason, t.amount_cents
        )

    def transfers_list(self, *, since: datetime) -> list[TransferRecord]:
        return [
            TransferRecord(t.transfer_id, t.idempotency_key, t.amount_cents, t.currency, t.status)
            for t in SandboxTransfer.objects.filter(created_at__gte=since).order_by("id")
        ]
