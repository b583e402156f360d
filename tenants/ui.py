"""What every customer page shares: the tenant the caller may see, and a refusal's readable text."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.functional import SimpleLazyObject

from portal.errors import ApplicationError, Forbidden
from tenants.models import Scope, Tenant
from tenants.permissions import caller_scopes
from tenants.selectors import tenant_get_by_slug, tenant_list_for


def tenant_for(request, slug: str, scope: str = Scope.READ) -> tuple[Tenant, frozenset[str]]:
    """The tenant if the user may see it (404 otherwise, as in the API) and the user's scopes on it."""
    tenant = tenant_get_by_slug(slug=slug)
    scopes = caller_scopes(request, tenant) if tenant else frozenset()
    if Scope.READ not in scopes:
        raise Http404("No such tenant.")
    if scope not in scopes:
        raise Http404("Your role does not allow this.")
    if tenant.require_two_factor and not _verified(request):
        raise Forbidden(
            f"{tenant.name} requires two-factor login: turn it on under Your account, then log in again with a code."
        )
    return tenant, scopes


def _verified(request) -> bool:
    """Whether the session logged in with a second factor (django-otp's middleware sets is_verified)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


def error_text(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def form_errors(form) -> str:
    """A form's errors as one sentence per field, for a message."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else "Form"
        parts.append(f"{label}: {' '.join(errors)}")
    return "; ".join(parts)


def my_teams(request) -> dict:
    """Template context: the teams of the logged-in user, for the header's team switcher (read only when shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"my_teams": ()}
    return {"my_teams": SimpleLazyObject(lambda: list(tenant_list_for(user=user)))}


def outcome(request, call, success: str) -> bool:
    """Run `call()` (one service call for a form post): its refusal becomes an error message, else `success` shows."""
    try:
        call()
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, error_text(exc))
        return False
    messages.success(request, success)
    return True
