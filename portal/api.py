"""API plumbing shared by every app: the error shape (domain errors become HTTP answers here) and cursor pagination."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from portal.errors import ApplicationError, Invalid, Kind, NotFound

logger = logging.getLogger(__name__)


# The one place a domain error's kind becomes an HTTP status.
STATUS_OF_KIND = {
    Kind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    Kind.CONFLICT: status.HTTP_409_CONFLICT,
    Kind.INVALID: status.HTTP_400_BAD_REQUEST,
    Kind.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    Kind.QUOTA_EXCEEDED: status.HTTP_422_UNPROCESSABLE_ENTITY,
    Kind.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
}


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
        exc = Invalid("; ".join(exc.messages), fields=fields)
    elif isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, ApplicationError):
        # What DRF does for its own exceptions: an atomic request must not commit what led to the error.
        set_rollback()
        body = {"code": exc.code, "message": exc.message, "fields": exc.fields}
        return Response({"error": body}, status=STATUS_OF_KIND[exc.kind])
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
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
