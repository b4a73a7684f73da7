"""Stripe-style webhook signatures: `t=<unix>,v1=<hex>[,v1=<hex>]`, HMAC-SHA256 over "t.body".

Used for the webhooks we send to shops and to verify the ones we receive (screening provider).
Several v1 values may be present while a secret is being rotated; any one that matches is enough.
"""

import hashlib
import hmac
import time
from collections.abc import Iterable

DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    pass


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secrets: Iterable[str], body: bytes, *, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={t}"] + [f"v1={compute_signature(s, t, body)}" for s in secrets if s]
    return ",".join(parts)


def verify(
    header: str | None,
    body: bytes,
    secrets: Iterable[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a signature header against the raw body; return its timestamp or raise."""
    if not header:
        raise SignatureError("missing signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    for secret in secrets:
        if not secret:
            continue
        expected = compute_signature(secret, timestamp, body)
        if any(hmac.compare_digest(expected, s) for s in signatures):
            return timestamp
    raise SignatureError("no signature matches")
