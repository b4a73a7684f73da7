"""Driver tokens: the driver API without a database round trip to find out who is asking.

A driver token is a signed (HMAC with the secret key, salted) pair of driver and market ids,
valid 12 hours: about a shift. Going online returns one, the portal pages carry one for their
scripts, and a native app gets one by logging in (POST /api/v1/driver/token). The phone sends it
as `Authorization: Driver <token>`. A location ping then costs no PostgreSQL at all (P8) and an
offer accept only its own conditional UPDATEs (P7).

What a token cannot do is be revoked before it expires; what it can reach is what the driver's
session reaches, and every object is still scoped to the driver in the services (404
otherwise). Sessions and DRF tokens keep working beside it.
"""

import time
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.signals import setting_changed
from django.dispatch import receiver
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

SALT = "spark.dispatch.driver-token"
MAX_AGE_SECONDS = 12 * 3600
KEYWORD = "Driver"


@dataclass(frozen=True)
class DriverPrincipal:
    """request.user for a driver token: the ids it carries, no database row."""

    driver_id: int
    market_id: int
    is_authenticated: bool = True
    pk: None = None

    def get_username(self) -> str:
        return f"driver-{self.driver_id}"


def driver_token_for(*, driver_id: int, market_id: int) -> str:
    return signing.TimestampSigner(salt=SALT).sign(f"{driver_id}:{market_id}")


# Tokens that verified, with when they were signed: a phone sends the same token with every
# ping for hours, and the salted HMAC (key derivation included) cost as much CPU as validating
# the ping and rendering its answer together (P8). Only verified tokens are kept, each still
# expires MAX_AGE_SECONDS after signing, and a change of the signing keys empties the map.
_verified: dict[str, tuple[DriverPrincipal, int]] = {}
_VERIFIED_MAX = 10_000  # about 3 MB; a full map is emptied, not evicted one by one


def driver_token_principal(token: str) -> DriverPrincipal:
    token = token.strip()
    known = _verified.get(token)
    if known is not None and time.time() - known[1] <= MAX_AGE_SECONDS:
        return known[0]
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=MAX_AGE_SECONDS)
        driver_id, market_id = (int(v) for v in value.split(":"))
        signed_at = signing.b62_decode(token.rsplit(":", 2)[1])
    except (signing.BadSignature, ValueError) as exc:
        _verified.pop(token, None)
        raise exceptions.AuthenticationFailed("Invalid or expired driver token.") from exc
    principal = DriverPrincipal(driver_id=driver_id, market_id=market_id)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[token] = (principal, signed_at)
    return principal


@receiver(setting_changed)
def _signing_keys_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        _verified.clear()


class DriverTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[DriverPrincipal, None] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, token = header.partition(" ")
        if scheme != KEYWORD or not token:
            return None
        return driver_token_principal(token), None

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class DriverTokenScheme(OpenApiAuthenticationExtension):
    target_class = "dispatch.auth.DriverTokenAuthentication"
    name = "DriverToken"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Driver <token from POST /api/v1/driver/token or /online>",
        }
