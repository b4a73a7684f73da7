"""Webhooks to shops through a transactional outbox.

An order change writes a WebhookEvent plus one WebhookDelivery per active endpoint in the same
transaction. The relay claims due deliveries with SKIP LOCKED and a lease, sends them outside any
transaction (no network call holds a lock), and records the outcome: success, a retry with
exponential backoff and full jitter, or dead after the retry window (ops can replay it).
Deliveries for one order reach an endpoint in order: a delivery waits while an earlier one for the
same order and endpoint is still pending.
"""

import ipaddress
import json
import logging
import random
import secrets
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from orders import tasks
from orders.models import (
    Merchant,
    Order,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from spark.lib import clock, signing
from spark.lib import sql as lib_sql
from spark.lib.db import one_or_none
from spark.lib.errors import NotFound, Unprocessable

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Spark-Signature"
BACKOFF_BASE_SECONDS = 10
BACKOFF_MAX_SECONDS = 3600
SECRET_ROTATION_OVERLAP = timedelta(hours=24)


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --- endpoints ------------------------------------------------------------------------------


def _validate_target_url(url: str) -> None:
    parts = urlsplit(url)
    allow_private = settings.SPARK_WEBHOOK_ALLOW_PRIVATE_TARGETS
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise Unprocessable("Webhook URLs must use https.", code="invalid_webhook_url")
    if not parts.hostname:
        raise Unprocessable("The webhook URL has no host.", code="invalid_webhook_url")
    if not allow_private and _is_private_literal(parts.hostname):
        raise Unprocessable(
            "Webhook URLs may not point at private or loopback addresses.",
            code="invalid_webhook_url",
        )


def _is_private_literal(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return _is_private_ip(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return False


def _is_private_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not ip.is_global or ip.is_multicast


@transaction.atomic
def webhook_endpoint_create(
    *, merchant: Merchant, url: str, description: str = ""
) -> WebhookEndpoint:
    """Creates the endpoint; its `secret` is returned to the merchant this once."""
    _validate_target_url(url)
    return WebhookEndpoint.objects.create(
        merchant=merchant, url=url, description=description, secret=_new_secret()
    )


@transaction.atomic
def webhook_endpoint_delete(*, merchant: Merchant, public_id: object) -> None:
    deleted, _ = WebhookEndpoint.objects.filter(merchant=merchant, public_id=public_id).delete()
    if not deleted:
        raise NotFound("No such webhook endpoint.")


@transaction.atomic
def webhook_endpoint_rotate_secret(*, merchant: Merchant, public_id: object) -> WebhookEndpoint:
    """A new secret; the old one keeps signing beside it for a day so the shop can switch."""
    endpoint = one_or_none(
        WebhookEndpoint.objects.select_for_update().filter(merchant=merchant, public_id=public_id)
    )
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = clock.now() + SECRET_ROTATION_OVERLAP
    endpoint.secret = _new_secret()
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    keys = [endpoint.secret]
    if endpoint.previous_secret and (
        endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now
    ):
        keys.append(endpoint.previous_secret)
    return keys


# --- the outbox -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEvent:
    merchant_id: int
    order: Order | None
    type: str
    data: dict  # JSON-ready (strings for times and ids)
    # False when the caller knows the merchant has no active endpoint (read with the change's
    # own lock): the event is recorded, and no delivery is looked for.
    deliver: bool = True


def webhook_events_emit(
    events: list[OutboxEvent], *, with_writes: Sequence[lib_sql.Statement] = ()
) -> None:
    """Write events and their deliveries. Call inside the transaction of the change itself.

    Set-based: one insert for the events and one INSERT ... SELECT for the deliveries to every
    active endpoint of each event's merchant, however many events there are (the events are
    found again by their public ids, so their own ids are never read back). `with_writes`
    are the change's own statements: they go first, in the same round trip, sent with the
    transaction's next statement or its COMMIT (lib_sql.run_later).
    """
    if not events:
        lib_sql.run_later(with_writes)
        return
    now = clock.now()
    rows = []
    for e in events:
        event_id = "evt_" + uuid.uuid4().hex
        payload = {"id": event_id, "type": e.type, "created": now.isoformat(), "data": e.data}
        rows.append(
            WebhookEvent(
                public_id=event_id,
                merchant_id=e.merchant_id,
                order=e.order,
                type=e.type,
                payload=payload,
                created_at=now,
            )
        )
    statements = [*with_writes, *lib_sql.insert_statements(WebhookEvent, rows)]
    ids = [row.public_id for row, e in zip(rows, events, strict=True) if e.deliver]
    if ids:
        statements.append(
            (
                f"""
                INSERT INTO {WebhookDelivery._meta.db_table}
                    (event_id, endpoint_id, order_id, status, attempts, next_attempt_at,
                     created_at, last_error)
                SELECT e.id, ep.id, e.order_id, %s, 0, %s, %s, ''
                FROM {WebhookEvent._meta.db_table} e
                JOIN {WebhookEndpoint._meta.db_table} ep
                  ON ep.merchant_id = e.merchant_id AND ep.is_active
                WHERE e.public_id IN ({", ".join(["%s"] * len(ids))})
                ORDER BY e.id, ep.id
                """,  # noqa: S608 (table names from the models, values as parameters)
                [WebhookDelivery.Status.PENDING, now, now, *ids],
            )
        )
    # Wake the relay when there are deliveries. Orders read with whether their merchant has an
    # active endpoint (sql.lock_orders: has_webhooks) tell it before the writes, which can then
    # be held; for others the rowcount of the deliveries' insert does.
    if all(hasattr(e.order, "has_webhooks") for e in events if e.deliver):
        lib_sql.run_later(statements)
        delivers = any(e.deliver and e.order.has_webhooks for e in events)
    else:
        delivers = bool(lib_sql.run(statements)) and bool(ids)
    if delivers:
        transaction.on_commit(_kick_relay)


RELAY_KICK_INTERVAL_SECONDS = 1.0
_next_kick_at = 0.0  # (monotonic) before it, a change does not wake the relay at once
_trailing_for = 0.0  # the window (its _next_kick_at) a trailing run is already queued for


def _kick_relay() -> None:
    """Wake the relay now rather than at its next beat (5 s), at most once a second per process.

    A change in the second after a kick queues one trailing run a second later, so it is not
    left to the beat when the woken relay has already found its queue empty: each change is
    sent within about two seconds, for at most two tasks a second per process.

    Best effort: the change is committed and the beat sweep finds it anyway, so a broker that
    is down must not turn a committed request into an error (Q2).
    """
    global _next_kick_at, _trailing_for
    now = time.monotonic()
    try:
        if now >= _next_kick_at:
            _next_kick_at = now + RELAY_KICK_INTERVAL_SECONDS
            tasks.webhook_deliveries_send.delay()
        elif _trailing_for != _next_kick_at:
            _trailing_for = _next_kick_at
            tasks.webhook_deliveries_send.apply_async(countdown=RELAY_KICK_INTERVAL_SECONDS)
    except Exception as exc:
        # One line, no traceback: during a broker outage this runs at every order change.
        logger.warning("could not enqueue the webhook relay (%s); the beat sweep will", exc)


# --- the relay ------------------------------------------------------------------------------


def _claimable(now: datetime) -> Any:
    earlier_pending = WebhookDelivery.objects.filter(
        endpoint=OuterRef("endpoint"),
        order=OuterRef("order"),
        status=WebhookDelivery.Status.PENDING,
        id__lt=OuterRef("id"),
    )
    return (
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .filter(Q(order__isnull=True) | ~Exists(earlier_pending))
        .order_by("id")
    )


@transaction.atomic
def webhook_deliveries_claim(*, limit: int) -> list[int]:
    """Lease up to `limit` due deliveries. Other relays skip the locked rows (SKIP LOCKED)."""
    now = clock.now()
    ids = list(
        _claimable(now).select_for_update(skip_locked=True).values_list("id", flat=True)[:limit]
    )
    if ids:
        WebhookDelivery.objects.filter(id__in=ids).update(
            locked_until=now + settings.SPARK_WEBHOOK_LEASE
        )
    return ids


def _resolve_is_private(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False  # the request itself will fail with a clear error
    return any(_is_private_ip(ipaddress.ip_address(info[4][0])) for info in infos)


def _post(delivery: WebhookDelivery, now: datetime) -> tuple[int | None, str]:
    endpoint = delivery.endpoint
    host = urlsplit(endpoint.url).hostname or ""
    if not settings.SPARK_WEBHOOK_ALLOW_PRIVATE_TARGETS and _resolve_is_private(host):
        return None, "refused: the target resolves to a private or loopback address"
    body = json.dumps(delivery.event.payload, separators=(",", ":")).encode()
    header = signing.sign(signing_secrets(endpoint, now), body)
    try:
        response = requests.post(
            endpoint.url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Spark-Webhooks/1.0",
                SIGNATURE_HEADER: header,
            },
            timeout=settings.SPARK_WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return response.status_code, "" if 200 <= response.status_code < 300 else response.text[:200]


def backoff_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """Full jitter over an exponential ceiling: 10 s, 20 s, 40 s … capped at an hour."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not crypto)


def webhook_delivery_attempt(*, delivery_id: int) -> str:
    """Send one leased delivery and record the outcome. Returns the new status."""
    delivery = WebhookDelivery.objects.select_related("endpoint", "event").get(id=delivery_id)
    if delivery.status != WebhookDelivery.Status.PENDING:
        return delivery.status
    now = clock.now()
    started = time.monotonic()
    status_code, error = _post(delivery, now)
    elapsed_ms = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    return _record_attempt(delivery, status_code, error, elapsed_ms, ok=ok)


@transaction.atomic
def _record_attempt(
    delivery: WebhookDelivery, status_code: int | None, error: str, elapsed_ms: int, *, ok: bool
) -> str:
    now = clock.now()
    WebhookAttempt.objects.create(
        delivery=delivery, at=now, status_code=status_code, error=error, duration_ms=elapsed_ms
    )
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": error,
        "locked_until": None,
    }
    if ok:
        fields |= {"status": WebhookDelivery.Status.SUCCEEDED, "delivered_at": now}
    else:
        next_at = now + timedelta(seconds=backoff_seconds(attempts))
        if next_at > delivery.created_at + settings.SPARK_WEBHOOK_RETRY_WINDOW:
            fields["status"] = WebhookDelivery.Status.DEAD
        else:
            fields["next_attempt_at"] = next_at
    # Conditional on still pending: a replay or a second relay never flips a finished row.
    WebhookDelivery.objects.filter(id=delivery.id, status=WebhookDelivery.Status.PENDING).update(
        **fields
    )
    return fields.get("status", WebhookDelivery.Status.PENDING)


def webhook_deliveries_send(*, time_budget_seconds: float = 30.0) -> int:
    """Claim and send until nothing is due or the budget is spent; returns how many were sent."""
    deadline = time.monotonic() + time_budget_seconds
    sent = 0
    while time.monotonic() < deadline:
        ids = webhook_deliveries_claim(limit=settings.SPARK_WEBHOOK_BATCH_SIZE)
        if not ids:
            break
        for delivery_id in ids:
            webhook_delivery_attempt(delivery_id=delivery_id)
            sent += 1
    return sent


@transaction.atomic
def webhook_delivery_replay(*, delivery_id: int) -> WebhookDelivery:
    """Ops: send a dead (or stuck) delivery again, with a fresh retry window."""
    now = clock.now()
    WebhookDelivery.objects.filter(id=delivery_id).exclude(
        status=WebhookDelivery.Status.SUCCEEDED
    ).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=now,
        locked_until=None,
        created_at=now,
    )
    transaction.on_commit(tasks.webhook_deliveries_send.delay)
    return WebhookDelivery.objects.get(id=delivery_id)
