"""A database that is down or restarting gives 503 with Retry-After, never a 500 (Q3)."""

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from spark.lib.api import error_body

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable: %s", exc)
        body = error_body("service_unavailable", "The service is briefly unavailable; retry.")
        response = JsonResponse(body, status=503)
        response["Retry-After"] = "5"
        return response
