"""What every customer page shares: the tenant the caller may see, and a refusal's readable text."""

import functools
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.utils.functional import SimpleLazyObject

from portal.errors import ApplicationError, Forbidden
from tenants.models import Tenant
from tenants.permissions import Permissions, ui_tenant_gate
from tenants.selectors import tenant_list_for


def tenant_for(request, slug: str, action: str) -> tuple[Tenant, Permissions]:
    """The tenant when the user may do `action` on it (404 otherwise, as in the API), and what the user may do there.

    A tenant that requires two-factor login refuses a session that logged in without a code.
    """
    can = ui_tenant_gate(request, slug=slug, action=action)
    tenant = can.tenant
    if tenant.require_two_factor and not _verified(request):
        raise Forbidden(
            f"{tenant.name} requires two-factor login: turn it on under Your account, then log in again with a code."
        )
    return tenant, can


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


SWITCHER_TEAMS = 20


@dataclass
class Window:
    """One page of a list too long to count on every request: its rows, and whether newer or older ones exist."""

    rows: list
    number: int
    size: int
    has_next: bool

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def end(self) -> int:
        return (self.number - 1) * self.size + len(self.rows)


def window(queryset, page: str | None, size: int) -> Window:
    """Page `page` (1 when not a positive number) of `queryset`, read as size + 1 rows: no COUNT over the list."""
    number = int(page) if page and page.isdigit() and int(page) > 0 else 1
    offset = (number - 1) * size
    rows = list(queryset[offset : offset + size + 1])
    return Window(rows=rows[:size], number=number, size=size, has_next=len(rows) > size)


def my_teams(request) -> dict:
    """Template context: the teams of the logged-in user, for the header's team switcher (read only when shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"my_teams": (), "more_teams": False}
    # One more than shown, read once, tells whether to offer the full list (a staff user sees every team there is).
    fetched = functools.cache(lambda: list(tenant_list_for(user=user)[: SWITCHER_TEAMS + 1]))
    return {
        "my_teams": SimpleLazyObject(lambda: fetched()[:SWITCHER_TEAMS]),
        "more_teams": SimpleLazyObject(lambda: len(fetched()) > SWITCHER_TEAMS),
    }


def outcome(request, call, success: str) -> bool:
    """Run `call()` (one service call for a form post): its refusal becomes an error message, else `success` shows."""
    try:
        call()
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, error_text(exc))
        return False
    messages.success(request, success)
    return True
