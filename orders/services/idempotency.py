"""Idempotency keys with Stripe's rules (RELIABILITY.md section 1).

The work and the stored response commit together, in one transaction that holds an advisory
lock on (merchant, key): a concurrent twin fails to take the lock and gets 409
idempotency_key_in_use at once; a later retry finds the stored response and gets it back byte
for byte; the same key with another body is 422 idempotency_key_mismatch. A request that dies
mid-way rolls back with its key, so a retry runs afresh. Requests that fail validation are not
stored; domain errors (4xx after execution began) are. Keys live 24 h, scoped to one merchant.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from orders.models import IdempotencyKey, Merchant
from spark.lib import clock
from spark.lib.db import one_or_none, try_advisory_xact_lock
from spark.lib.errors import ApplicationError, Conflict, Unprocessable


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes


@dataclass(frozen=True)
class Request:
    merchant: Merchant
    key: str
    method: str
    path: str
    request_hash: str


def _lock_and_find(request: Request) -> Replay | None:
    """Call inside a transaction. Raises 409 while a twin runs, 422 on a reused key."""
    if not try_advisory_xact_lock(f"idem:{request.merchant.id}:{request.key}"):
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry shortly.",
            code="idempotency_key_in_use",
        )
    record = one_or_none(IdempotencyKey.objects.filter(merchant=request.merchant, key=request.key))
    if record is None:
        return None
    if clock.now() - record.created_at > settings.SPARK_IDEMPOTENCY_KEY_TTL:
        record.delete()  # expired: the key starts a new request
        return None
    if record.request_hash != request.request_hash or record.path != request.path:
        raise Unprocessable(
            "This Idempotency-Key was used with a different request.",
            code="idempotency_key_mismatch",
        )
    return Replay(status=record.response_status, body=bytes(record.response_body))


def _store(request: Request, status: int, body: bytes) -> None:
    IdempotencyKey.objects.create(
        merchant=request.merchant,
        key=request.key,
        method=request.method,
        path=request.path,
        request_hash=request.request_hash,
        response_status=status,
        response_body=body,
        created_at=clock.now(),
    )


class WorkFailed(Exception):
    """The work raised a domain error; carries it out of the rolled-back transaction."""

    def __init__(self, error: ApplicationError):
        super().__init__(error.message)
        self.error = error


def idempotent_run(request: Request, work: Callable[[], tuple[int, bytes]]) -> tuple[Replay, bool]:
    """Run `work` at most once per key and store its response; returns (response, replayed).

    `work` returns (status, body). A domain error from it rolls the work back and comes out as
    WorkFailed, for the caller to store with idempotency_store_failure(); any other exception
    rolls everything back and leaves no key behind, so a retry runs afresh.
    """
    with transaction.atomic():
        replay = _lock_and_find(request)
        if replay is not None:
            return replay, True
        try:
            status, body = work()
        except ApplicationError as exc:
            if exc.retryable:
                raise  # says nothing final: not stored, the client retries with the same key
            raise WorkFailed(exc) from exc
        _store(request, status, body)
        return Replay(status, body), False


def idempotency_store_failure(request: Request, status: int, body: bytes) -> Replay:
    """Store a domain error as the key's outcome (a twin may have stored one first)."""
    with transaction.atomic():
        replay = _lock_and_find(request)
        if replay is not None:
            return replay
        _store(request, status, body)
    return Replay(status, body)


def idempotency_keys_purge() -> int:
    cutoff = clock.now() - settings.SPARK_IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
