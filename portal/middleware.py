"""Middleware shared by every app's pages."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from portal.errors import ApplicationError, Kind


class ApplicationErrorMiddleware:
    """Answer a page whose view let a NotFound or Forbidden domain error through with Django's 404 or 403 page.

    A view looks up the objects its URL names through selectors, which raise NotFound; the page is then a 404, as the
    API answers. Errors a view can explain (a refused form) it catches itself and shows as a message.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ApplicationError):
            return None
        if exception.kind == Kind.NOT_FOUND:
            raise Http404(exception.message) from exception
        if exception.kind == Kind.FORBIDDEN:
            raise PermissionDenied(exception.message) from exception
        return None
