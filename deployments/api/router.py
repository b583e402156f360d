"""API of an app's router settings: body limit, timeouts, HTTPS redirect, maintenance page, IP allowlist."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from deployments import selectors
from deployments.models import RouterSettings
from deployments.services import router_settings as services
from tenants.api.base import TenantScopedViewSet


class RouterSettingsOutput(serializers.ModelSerializer):
    allow = serializers.ListField(child=serializers.CharField(), help_text="CIDR ranges; empty: every address.")

    class Meta:
        model = RouterSettings
        fields = [
            "max_body_mb",
            "connect_timeout_s",
            "read_timeout_s",
            "force_https",
            "maintenance",
            "maintenance_page",
            "allow",
        ]


PATCH_SCHEMA = {
    "type": "object",
    "description": "Any subset of the settings.",
    "properties": {
        "max_body_mb": {"type": "integer", "minimum": 1, "maximum": 10240},
        "connect_timeout_s": {"type": "integer", "minimum": 1, "maximum": 120},
        "read_timeout_s": {"type": "integer", "minimum": 1, "maximum": 3600},
        "force_https": {"type": "boolean"},
        "maintenance": {"type": "boolean"},
        "maintenance_page": {"type": "string", "maxLength": services.MAX_PAGE_BYTES},
        "allow": {"type": "array", "items": {"type": "string", "example": "203.0.113.0/24"}},
    },
}


class RouterSettingsViewSet(TenantScopedViewSet):
    """What the router does with an app's requests; a change reaches the routers within a second, without a reload."""

    scope_map = {**TenantScopedViewSet.scope_map, "PATCH": ["write"]}
    pagination_class = None

    @extend_schema(responses={200: RouterSettingsOutput})
    def retrieve(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        return Response(RouterSettingsOutput(selectors.router_settings_get(app=app)).data)

    @extend_schema(request={"application/json": PATCH_SCHEMA}, responses={200: RouterSettingsOutput})
    def partial_update(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        row = services.router_settings_update(app=app, values=request.data, actor=request.user)
        return Response(RouterSettingsOutput(row).data)


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/router/",
        RouterSettingsViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="app-router",
    ),
]
