"""The base of every tenant-scoped API view: resolves {tenant}, checks membership and scope."""

from django.http import Http404
from rest_framework import viewsets

from tenants.models import Tenant
from tenants.permissions import ScopePermission


class TenantScopedViewSet(viewsets.GenericViewSet):
    """Sets `self.tenant` from the URL before permissions run; a tenant the caller cannot see answers 404."""

    permission_classes = [ScopePermission]
    scope_map = {"GET": ["read"], "HEAD": ["read"], "OPTIONS": ["read"]}
    tenant: Tenant | None = None

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        self.perform_authentication(request)
        if getattr(request.user, "is_authenticated", False):
            # A missing tenant and a foreign one must look the same; ScopePermission turns "no read" into 404.
            self.tenant = Tenant.objects.filter(slug=kwargs.get("tenant", "")).first()
            if self.tenant is None:
                raise Http404("No such tenant.")
        super().initial(request, *args, **kwargs)
