"""The audit trail: one call every service makes after it changes something."""

import contextvars

from django.db import models

from tenants.models import AuditEvent, Tenant

# The client address of the request being served, set by AuditContextMiddleware; None outside requests.
client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("berth_client_ip", default=None)


def audit_record(
    *,
    actor,
    tenant: Tenant | None,
    action: str,
    target: models.Model | None = None,
    diff: dict | None = None,
) -> AuditEvent:
    """Record that `actor` did `action` on `target`. Callers pass diffs with secret values already masked."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=user,
        actor_name=user.get_username() if user else "system",
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        ip=client_ip.get(),
        diff=diff or {},
    )


class AuditContextMiddleware:
    """Make the client address available to audit_record for the duration of a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = client_ip.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            client_ip.reset(token)
