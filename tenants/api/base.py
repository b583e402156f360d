"""The base of every tenant-scoped API view: resolves {tenant}, then the action gate (tenants.permissions) runs."""

from django.http import Http404
from rest_framework import viewsets

from tenants.models import Tenant
from tenants.permissions import ActionGatedMixin
from tenants.selectors import tenant_get_by_slug


class TenantScopedViewSet(ActionGatedMixin, viewsets.GenericViewSet):
    """Sets `self.tenant` from the URL before permissions run; a tenant the caller cannot see answers 404.

    Subclasses name the action of each handler in `permission_actions` (handler -> an entry of ACTIONS); a caller
    without `read` on the tenant gets 404, one who can read it but may not do the action 403.
    """

    metadata_action = "tenant.view"
    tenant: Tenant | None = None

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        self.perform_authentication(request)
        if getattr(request.user, "is_authenticated", False):
            # A missing tenant and a foreign one must look the same; ActionPermission turns "no read" into 404.
            self.tenant = tenant_get_by_slug(slug=kwargs.get("tenant", ""))
            if self.tenant is None:
                raise Http404("No such tenant.")
        super().initial(request, *args, **kwargs)
