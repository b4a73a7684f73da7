"""Deploy checks: production must bring its own keys for field encryption and the sandbox."""

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def encryption_keys_configured(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.FIELD_ENCRYPTION_KEYS:
        return []
    return [
        Warning(
            "FIELD_ENCRYPTION_KEYS is not set: licence numbers are encrypted with a key derived "
            "from SECRET_KEY.",
            hint="Generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'` and keep it in your secret manager.",
            id="drivers.W001",
        )
    ]


@register(Tags.security, deploy=True)
def sandbox_screening_disabled(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if not settings.SCREENING_SANDBOX_ENABLED or settings.EMBEDDED:
        return []
    return [
        Warning(
            "The sandbox screening provider is enabled: drivers pass a simulated background check.",
            hint="Set USE_CHECKR=True with CHECKR_API_KEY, or SPARK_SCREENING_SANDBOX=False.",
            id="drivers.W002",
        )
    ]
