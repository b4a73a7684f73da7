"""`Authorization: Bearer <api key>` for the shop API; the request's user is the merchant."""

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from orders import services
from orders.models import ApiKey, Merchant


@dataclass(frozen=True)
class MerchantPrincipal:
    """Stands in for request.user on API-key requests."""

    merchant: Merchant
    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None

    def get_username(self) -> str:
        return f"merchant:{self.merchant.slug}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[MerchantPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme != self.keyword or not raw_key.startswith("spk_"):
            return None  # not ours: another authenticator (session) may take it
        key = services.api_key_authenticate(raw_key.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return MerchantPrincipal(merchant=key.merchant, api_key=key), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents the API key in the OpenAPI schema."""

    target_class = "orders.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "spk_<prefix>_<secret>"}
