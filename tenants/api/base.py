"""The base of every tenant-scoped API view: resolves {tenant}, checks membership and scope."""

from django.http import Http404
from rest_framework import viewsets

from tenants.models import Tenant
from tenants.permissions import ScopePermission
from tenants.selectors import tenant_get_by_slug


class TenantScopedViewSet(viewsets.GenericViewSet):
    """Sets `self.tenant` from the URL before permissions run; a tenant the caller cannot see answers 404.

    Subclasses declare `scope_map` (method -> scopes needed); a caller without `read` on the tenant gets 404, one
    who can read it but lacks the scope gets 403.
    """

    permission_classes = [ScopePermission]
    scope_map = {"GET": ["read"], "HEAD": ["read"], "OPTIONS": ["read"]}
    tenant: Tenant | None = None

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        self.perform_authentication(request)
        if getattr(request.user, "is_authenticated", False):
            # A missing tenant and a foreign one must look the same; ScopePermission turns "no read" into 404.
            self.tenant = tenant_get_by_slug(slug=kwargs.get("tenant", ""))
            if self.tenant is None:
                raise Http404("No such tenant.")
        super().initial(request, *args, **kwargs)
