"""Screening providers behind one interface; `get_provider(name)` builds one from settings."""

from django.conf import settings

from drivers.screening.base import (
    Invitation,
    Report,
    ScreeningError,
    ScreeningEvent,
    ScreeningProvider,
    WebhookPayloadError,
    WebhookSignatureError,
    event_parse,
)
from drivers.screening.checkr import CheckrProvider
from drivers.screening.sandbox import SandboxProvider

__all__ = [
    "CheckrProvider",
    "Invitation",
    "Report",
    "SandboxProvider",
    "ScreeningError",
    "ScreeningEvent",
    "ScreeningProvider",
    "UnknownProvider",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "event_parse",
    "get_provider",
]


class UnknownProvider(LookupError):
    pass


def enabled_providers() -> set[str]:
    names = {"sandbox"} if settings.SCREENING_SANDBOX_ENABLED else set()
    if settings.USE_CHECKR:
        names.add("checkr")
    return names


def get_provider(name: str | None = None) -> ScreeningProvider:
    """The provider `name` (default: settings.SCREENING_PROVIDER), if it is enabled."""
    name = name or settings.SCREENING_PROVIDER
    if name not in enabled_providers():
        raise UnknownProvider(name)
    if name == "checkr":
        return CheckrProvider(
            api_key=settings.CHECKR_API_KEY,
            base_url=settings.CHECKR_BASE_URL,
            webhook_secrets=settings.CHECKR_WEBHOOK_SECRETS,
            timeout=settings.SCREENING_WEBHOOK_TIMEOUT_SECONDS,
        )
    return SandboxProvider(webhook_secrets=settings.SCREENING_SANDBOX_WEBHOOK_SECRETS)
