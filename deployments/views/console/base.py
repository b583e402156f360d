"""What every console page shares: the staff gate and running one service call for a form."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render

from portal.errors import ApplicationError
from tenants.permissions import Permissions
from tenants.ui import error_text, form_errors


def staff_page(action: str):
    """Open the view to staff who may do `action` (tenants/permissions.py); 404 to other users, login to anonymous."""

    def decorator(view):
        @wraps(view)
        def gated(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not Permissions(user=request.user).allows(action):
                raise Http404("No such page.")
            return view(request, *args, **kwargs)

        return gated

    return decorator


def act(request, call, success: str) -> bool:
    """Run `call()` (one service call); its refusal becomes an error message, else `success` shows."""
    try:
        result = call()
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, error_text(exc))
        return False
    messages.success(request, success(result) if callable(success) else success)
    return True


def refuse_form(request, form) -> None:
    messages.error(request, form_errors(form))


def confirm(request, *, title: str, question: str, action: str, button: str, fields: dict | None = None, back: str):
    """The confirmation page of a destructive action: a form posting `confirm=yes` (and `fields`) to `action`."""
    context = {"title": title, "question": question, "action": action, "button": button, "fields": fields or {}}
    return render(request, "console/confirm.html", {**context, "back": back})
