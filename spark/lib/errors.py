"""Domain errors. The API's exception handler turns each into one JSON error shape."""

from typing import Any


class ApplicationError(Exception):
    """A rule of the domain was broken. `code` is machine-readable, `message` for people."""

    status_code = 400
    code = "invalid_request"
    # A retryable error says nothing final about the request (a concurrent twin got there
    # first): it is never stored as an idempotency key's outcome.
    retryable = False

    def __init__(
        self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra or {}


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"


class ConcurrentRequest(Conflict):
    code = "concurrent_request"
    retryable = True


class Unprocessable(ApplicationError):
    status_code = 422
    code = "unprocessable"


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, message: str, *, current_status: str, extra: dict[str, Any] | None = None):
        super().__init__(message, extra={"current_status": current_status, **(extra or {})})
        self.current_status = current_status


class ServiceUnavailable(ApplicationError):
    status_code = 503
    code = "service_unavailable"
