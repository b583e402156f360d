"""API plumbing shared by every app: the error shape and cursor pagination."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class DomainError(exceptions.APIException):
    """An error a service raises that the caller can act on; becomes the documented error shape."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None, fields=None):
        super().__init__(detail=message, code=code or self.default_code)
        self.code = code or self.default_code
        self.fields = fields or {}
        if status_code is not None:
            self.status_code = status_code


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {
            key: [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
    return {}


def exception_handler(exc, context):
    """Render every error as {"error": {"code", "message", "fields"}}."""
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        message = "; ".join(exc.messages)
        exc = DomainError(message, code="invalid", fields=fields)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, DomainError):
        body = {"code": exc.code, "message": str(exc.detail), "fields": exc.fields}
    elif isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail) if isinstance(exc.detail, dict) else {}
        if isinstance(exc.detail, list):
            message = "; ".join(str(item) for item in exc.detail)
        else:
            message = "; ".join(f"{key}: {' '.join(value)}" for key, value in fields.items()) or "Invalid input."
        body = {"code": "invalid", "message": message, "fields": fields}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        body = {"code": str(code), "message": str(detail), "fields": {}}
    response.data = {"error": body}
    return response


class CursorPagination(pagination.CursorPagination):
    """Opaque cursors, newest first by default; stable under concurrent inserts."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-id"


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable code, e.g. `not_found` or `last_owner`.")
    message = serializers.CharField(help_text="A sentence for a human.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per input field, what is wrong with it; empty when the error is not about a field.",
    )


class ErrorResponse(serializers.Serializer):
    """The shape of every error the API answers."""

    error = ErrorBody()
