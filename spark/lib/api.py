"""API plumbing shared by every app: one error shape, pagination, the exception handler.

Every error leaves the API as {"error": {"code", "message", "fields"}}.
"""

from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.fields import SkipField
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback

from spark.lib.errors import ApplicationError

_DRF_CODES = {
    400: "invalid_request",
    401: "authentication_required",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None, **extra: Any) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _flatten(detail: Any) -> Any:
    """DRF ErrorDetail trees -> plain lists of strings, keyed like the input."""
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def _validation_response(exc: exceptions.ValidationError) -> Response:
    detail = exc.detail
    if isinstance(detail, dict):
        fields = _flatten(detail)
        non_field = fields.pop("non_field_errors", None)
        message = non_field[0] if non_field else "The request has invalid fields."
        if non_field and fields:
            message = f"{message} Some fields are invalid too."
    else:
        fields = {}
        flat = _flatten(detail)
        message = flat[0] if isinstance(flat, list) and flat else str(flat)
    return Response(error_body("invalid_request", message, fields), status=400)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, **exc.extra), status=exc.status_code)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down or restarting (Q3): tell the client to retry, never a 500.
        set_rollback()
        return Response(
            error_body("service_unavailable", "The service is briefly unavailable; retry."),
            status=503,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DatabaseError):
        return None
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return _validation_response(exc)
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        code = _DRF_CODES.get(exc.status_code, "error")
        message = str(exc.detail) if not isinstance(exc.detail, (list, dict)) else code
        return Response(error_body(code, message), status=exc.status_code, headers=headers)
    return None


class Pagination(CursorPagination):
    """Cursor pages, newest first; stable under inserts, unlike offsets."""

    ordering = "-id"
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


NOT_FOUND = status.HTTP_404_NOT_FOUND


def represent(serializer_class: type[serializers.Serializer], instance: Any) -> dict:
    """`serializer_class(instance).data` for an output serializer of plain fields, without
    building its fields again for each call (DRF deep-copies every declared field per
    instance: for a 22-field offer that is most of the cost of the hot accept path, P7)."""
    ret = {}
    for field in _readable_fields(serializer_class):
        try:
            attribute = field.get_attribute(instance)
        except SkipField:
            continue
        ret[field.field_name] = None if attribute is None else field.to_representation(attribute)
    return ret


@cache
def _readable_fields(serializer_class: type[serializers.Serializer]) -> tuple:
    return tuple(serializer_class()._readable_fields)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    """`serializer_class(data=data)`'s validated_data, raising its ValidationError, without
    building its fields again for each call.

    DRF deep-copies every declared field, nested serializers included, for each instance: for
    the order input that is five times the cost of validating it (P6). One instance per class
    validates every call instead; validation keeps no state on a serializer or its fields.
    For input serializers that read no `context` (it is empty here). An invalid input goes
    through DRF's own `is_valid`, so the errors are DRF's to the letter.
    """
    try:
        return _validator(serializer_class).run_validation(data)
    except exceptions.ValidationError:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


@cache
def _validator(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    return serializer_class()
