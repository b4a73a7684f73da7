"""Payout providers behind one interface; `get_provider()` builds the configured one."""

from django.conf import settings

from payouts.providers.base import (
    PayoutProvider,
    ProviderUnavailable,
    TransferRecord,
    TransferRequest,
    TransferResult,
    TransferStatus,
)
from payouts.providers.sandbox import SandboxProvider
from payouts.providers.stripe import StripeProvider

__all__ = [
    "PayoutProvider",
    "ProviderUnavailable",
    "SandboxProvider",
    "StripeProvider",
    "TransferRecord",
    "TransferRequest",
    "TransferResult",
    "TransferStatus",
    "get_provider",
]


def get_provider() -> PayoutProvider:
    if settings.PAYOUTS_PROVIDER == "stripe":
        return StripeProvider(
            api_key=settings.STRIPE_API_KEY,
            base_url=settings.STRIPE_API_BASE,
            timeout=settings.STRIPE_TIMEOUT_SECONDS,
        )
    return SandboxProvider(
        fail_with=settings.PAYOUTS_SANDBOX_FAIL_WITH,
        fail_destinations=getattr(settings, "PAYOUTS_SANDBOX_FAIL_DESTINATIONS", ()),
    )
