"""Suspending a tenant: its apps answer a notice at the router; nothing is deleted and its containers keep running.

The notice goes through the route data the routers already get (services/routes.py gives a suspended tenant's apps
the maintenance mode with routes.SUSPENDED_PAGE), so resuming is one routes change: the containers never stopped.
"""

from django.db import transaction
from django.utils import timezone

from deployments.services.domains import router_sync_enqueue
from portal.errors import Conflict, Forbidden
from tenants.audit import audit_record
from tenants.models import Tenant
from tenants.services import tenant_lock


def _check_staff(actor) -> None:
    # None is a command run by an operator on the machine (manage.py tenant suspend).
    if actor is not None and not getattr(actor, "is_staff", False):
        raise Forbidden("Only platform staff may suspend or resume a tenant.")


@transaction.atomic
def tenant_suspend(*, actor, tenant: Tenant, reason: str = "") -> Tenant:
    """Make the tenant's apps answer the suspension notice (503) at the router; Conflict when already suspended."""
    _check_staff(actor)
    tenant = tenant_lock(tenant=tenant)
    if tenant.suspended_at is not None:
        raise Conflict(f"Tenant {tenant.slug} is already suspended.", code="tenant_suspended")
    tenant.suspended_at = timezone.now()
    tenant.save(update_fields=["suspended_at"])
    audit_record(actor=actor, tenant=tenant, action="tenant.suspend", target=tenant, diff={"reason": reason[:200]})
    transaction.on_commit(router_sync_enqueue)
    return tenant


@transaction.atomic
def tenant_resume(*, actor, tenant: Tenant) -> Tenant:
    """Serve the tenant's apps again; Conflict when it is not suspended."""
    _check_staff(actor)
    tenant = tenant_lock(tenant=tenant)
    if tenant.suspended_at is None:
        raise Conflict(f"Tenant {tenant.slug} is not suspended.", code="tenant_not_suspended")
    since = tenant.suspended_at
    tenant.suspended_at = None
    tenant.save(update_fields=["suspended_at"])
    audit_record(
        actor=actor, tenant=tenant, action="tenant.resume", target=tenant, diff={"suspended_at": since.isoformat()}
    )
    transaction.on_commit(router_sync_enqueue)
    return tenant
