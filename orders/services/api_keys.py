"""Merchant API keys: `spk_<prefix>_<secret>`, stored as a SHA-256 digest, shown once."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction

from orders.models import ApiKey, Merchant
from spark.lib import clock
from spark.lib.db import one_or_none

KEY_PREFIX = "spk"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, merchant: Merchant, name: str = "default", raw_key: str | None = None
) -> tuple[ApiKey, str]:
    """Returns the key row and the raw key, which is never stored and cannot be shown again.

    `raw_key` lets the demo seed install a documented, fixed key.
    """
    if raw_key is None:
        prefix = secrets.token_hex(4)
        raw_key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(24)}"
    else:
        prefix = raw_key.split("_")[1]
    key = ApiKey.objects.create(
        merchant=merchant, name=name, prefix=prefix, secret_hash=_digest(raw_key)
    )
    return key, raw_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, compared in constant time, or None."""
    parts = raw_key.split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX:
        return None
    key = one_or_none(ApiKey.objects.select_related("merchant").filter(prefix=parts[1]))
    if key is None or key.revoked_at is not None or not key.merchant.is_active:
        return None
    if not hmac.compare_digest(key.secret_hash, _digest(raw_key)):
        return None
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        # At most one write a minute per key, not one per request.
        ApiKey.objects.filter(id=key.id).update(last_used_at=now)
    return key


@transaction.atomic
def api_key_revoke(*, api_key_id: int) -> ApiKey:
    ApiKey.objects.filter(id=api_key_id, revoked_at__isnull=True).update(revoked_at=clock.now())
    return ApiKey.objects.get(id=api_key_id)
