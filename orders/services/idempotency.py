"""Idempotency keys with Stripe's rules (RELIABILITY.md section 1).

The key is claimed in its own committed transaction before the work starts, so a concurrent
twin sees it at once and gets 409 idempotency_key_in_use. The first response (success or domain
error) is stored and replayed byte for byte; the same key with another body is 422
idempotency_key_mismatch. Requests that fail validation are not stored. Keys live 24 h, scoped
to one merchant.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from orders.models import IdempotencyKey, Merchant
from spark.lib import clock
from spark.lib.errors import Conflict, Unprocessable


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes


def _try_insert(merchant: Merchant, key: str, method: str, path: str, request_hash: str) -> int:
    now = clock.now()
    with transaction.atomic():
        record = IdempotencyKey.objects.create(
            merchant=merchant,
            key=key,
            method=method,
            path=path,
            request_hash=request_hash,
            created_at=now,
            locked_at=now,
        )
    return record.id


def idempotency_begin(
    *, merchant: Merchant, key: str, method: str, path: str, request_hash: str
) -> int | Replay:
    """Claim `key` for this request (returns the record id) or return the stored response."""
    for _ in range(2):
        try:
            return _try_insert(merchant, key, method, path, request_hash)
        except IntegrityError:
            pass
        record = IdempotencyKey.objects.filter(merchant=merchant, key=key).first()
        if record is None:
            continue  # purged between our insert and read; try the insert again
        now = clock.now()
        expired = now - record.created_at > settings.SPARK_IDEMPOTENCY_KEY_TTL
        abandoned = (
            record.state == IdempotencyKey.State.IN_PROGRESS
            and now - record.locked_at > settings.SPARK_IDEMPOTENCY_LOCK_TIMEOUT
        )
        if expired or abandoned:
            IdempotencyKey.objects.filter(id=record.id, locked_at=record.locked_at).delete()
            continue
        if record.request_hash != request_hash or record.path != path:
            raise Unprocessable(
                "This Idempotency-Key was used with a different request.",
                code="idempotency_key_mismatch",
            )
        if record.state == IdempotencyKey.State.IN_PROGRESS:
            raise Conflict(
                "A request with this Idempotency-Key is still in progress; retry shortly.",
                code="idempotency_key_in_use",
            )
        return Replay(status=record.response_status, body=bytes(record.response_body))
    raise Conflict(
        "A request with this Idempotency-Key is still in progress; retry shortly.",
        code="idempotency_key_in_use",
    )


def idempotency_complete(*, record_id: int, status: int, body: bytes) -> None:
    IdempotencyKey.objects.filter(id=record_id).update(
        state=IdempotencyKey.State.COMPLETE, response_status=status, response_body=body
    )


def idempotency_release(*, record_id: int) -> None:
    """The request failed before it could produce a result: let a retry run it afresh."""
    IdempotencyKey.objects.filter(id=record_id, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_keys_purge() -> int:
    cutoff = clock.now() - settings.SPARK_IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
