"""Project middlewares.

A database, cache or broker that is down or restarting gives 503 with Retry-After, never a
500 (Q2, Q3). Two ways in: `process_exception` for errors raised in a view, and `server_error`
(the project's handler500) for errors raised in a middleware before any view runs (a session
read by the auth or 2FA middleware while PostgreSQL restarts). Both log one warning line, not a
traceback.

The Content Security Policy (A7) is django-csp's, with the header built once (see CSPMiddleware).
"""

import functools
import logging
import sys
from collections.abc import Callable

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views import defaults
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from spark.lib.api import error_body

logger = logging.getLogger(__name__)

UNAVAILABLE = (
    OperationalError,  # PostgreSQL refused or dropped the connection
    InterfaceError,
    RedisConnectionError,  # the cache or the location store (Redis) is unreachable
    RedisTimeoutError,
    BrokerUnavailable,  # Celery could not publish a task that was not made best effort
)


def unavailable_response(exc: BaseException) -> HttpResponse:
    logger.warning("dependency unavailable, answering 503: %s: %s", type(exc).__name__, exc)
    body = error_body("service_unavailable", "The service is briefly unavailable; retry.")
    response = JsonResponse(body, status=503)
    response["Retry-After"] = "5"
    # Django logs a 5xx again (an uncaught one with its traceback) unless the response says it
    # has been logged: the warning above is the whole story of an outage.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, UNAVAILABLE):
            return None
        return unavailable_response(exc)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an outage met outside a view is a 503 as well; anything else stays 500."""
    exc = sys.exc_info()[1]
    if not isinstance(exc, UNAVAILABLE):
        return defaults.server_error(request)
    return unavailable_response(exc)


# Per-response changes to the policy (django-csp's decorators) or a nonce need django-csp's own
# path; every other response gets the same two strings.
_CSP_OVERRIDES = tuple(
    f"_csp_{kind}{suffix}"
    for kind in ("config", "update", "replace", "exempt")
    for suffix in ("", "_ro")
)
_CSP_SETTINGS = {
    HEADER: ("CONTENT_SECURITY_POLICY", False),
    HEADER_REPORT_ONLY: ("CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
}


@functools.cache
def _csp_policy(header: str) -> tuple[str, tuple[str, ...]]:
    """The header's value from settings, and the path prefixes it is left off."""
    name, report_only = _CSP_SETTINGS[header]
    excluded = (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
    return build_policy(report_only=report_only), tuple(excluded)


@receiver(setting_changed)
def _csp_settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _csp_policy.cache_clear()


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware, same headers: django-csp rebuilds both policies from the settings
    for every response (two dict walks and joins, a tenth of a bare DRF request); here a response
    that changes nothing gets them from a cache cleared when the settings change."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in _CSP_OVERRIDES
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # the debug pages, as django-csp leaves them
        for header in (HEADER, HEADER_REPORT_ONLY):
            policy, excluded = _csp_policy(header)
            if policy and header not in response and not request.path_info.startswith(excluded):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
