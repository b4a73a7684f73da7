"""Ping tokens: location pings are authenticated without touching the database (P8).

Going online returns a short-lived signed token (driver and market ids, HMAC with the secret
key, valid 12 hours). The phone sends it as `Authorization: Ping <token>` with each location
ping, so a ping costs no database read and no write — only the Redis update.
"""

from dataclasses import dataclass
from typing import Any

from django.core import signing
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

SALT = "spark.dispatch.ping"
MAX_AGE_SECONDS = 12 * 3600


@dataclass(frozen=True)
class PingPrincipal:
    driver_id: int
    market_id: int
    is_authenticated: bool = True
    pk: None = None


def ping_token_for(*, driver_id: int, market_id: int) -> str:
    return signing.TimestampSigner(salt=SALT).sign(f"{driver_id}:{market_id}")


class PingTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Ping"

    def authenticate(self, request: Request) -> tuple[PingPrincipal, None] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, token = header.partition(" ")
        if scheme != self.keyword or not token:
            return None
        try:
            value = signing.TimestampSigner(salt=SALT).unsign(
                token.strip(), max_age=MAX_AGE_SECONDS
            )
            driver_id, market_id = (int(v) for v in value.split(":"))
        except (signing.BadSignature, ValueError) as exc:
            raise exceptions.AuthenticationFailed("Invalid or expired ping token.") from exc
        return PingPrincipal(driver_id=driver_id, market_id=market_id), None

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class PingTokenScheme(OpenApiAuthenticationExtension):
    target_class = "dispatch.auth.PingTokenAuthentication"
    name = "PingToken"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Ping <token from POST /api/v1/driver/online>",
        }
