"""A database, cache or broker that is down or restarting gives 503 with Retry-After, never a
500 (Q2, Q3).

Two ways in: `process_exception` for errors raised in a view, and `server_error` (the project's
handler500) for errors raised in a middleware before any view runs (a session read by the auth
or 2FA middleware while PostgreSQL restarts). Both log one warning line, not a traceback.
"""

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
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
