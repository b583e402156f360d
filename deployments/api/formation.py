"""API of the formation: per process type quantity, memory, CPU and health check."""

from decimal import Decimal

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from deployments import selectors
from deployments.api.config import RELEASE_HEADER
from deployments.services import formation as services
from deployments.services.releases import formation_entry
from tenants.api.base import TenantScopedViewSet

PROCESS_SCHEMA = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "Empty: the image's own command."},
        "quantity": {"type": "integer"},
        "memory": {"type": "string", "example": "256m"},
        "memory_mb": {"type": "integer"},
        "cpu": {"type": "number", "example": 0.5},
        "healthcheck": {
            "description": '"/path" (HTTP on $PORT), {"command": "..."} or null.',
            "oneOf": [{"type": "string"}, {"type": "object", "properties": {"command": {"type": "string"}}}],
            "nullable": True,
        },
        "healthcheck_timeout": {"type": "integer"},
        "read_only": {"type": "boolean", "description": "A read-only root filesystem (false: writable)."},
        "tmp": {"type": "string", "example": "64m", "description": "Size of the tmpfs /tmp."},
    },
}
FORMATION_SCHEMA = {"type": "object", "additionalProperties": PROCESS_SCHEMA}
FORMATION_PATCH_SCHEMA = {
    "type": "object",
    "description": 'Per process type: {"quantity", "memory", "cpu", "healthcheck", "healthcheck_timeout", '
    '"read_only", "tmp"}; '
    'the key "release" takes {"command": "..."} or null.',
    "additionalProperties": {"type": "object"},
}


def process_data(entry: dict) -> dict:
    """The API shape of one process type, from a Formation row's or a release snapshot's fields."""
    return {
        "command": entry["command"],
        "quantity": entry["quantity"],
        "memory": services.memory_display(entry["memory_mb"]),
        "memory_mb": entry["memory_mb"],
        "cpu": float(Decimal(str(entry["cpu"]))),
        "healthcheck": services.healthcheck_display(entry["healthcheck_kind"], entry["healthcheck"]),
        "healthcheck_timeout": entry.get("healthcheck_timeout", 60),
        "read_only": entry.get("read_only", True),
        "tmp": services.memory_display(entry.get("tmp_mb", 64)),
    }


def formation_data(rows) -> dict:
    return {row.process_type: process_data(formation_entry(row)) for row in rows}


class FormationViewSet(TenantScopedViewSet):
    """An app's formation. Scaling alone is not a release; any other change creates one."""

    permission_actions = {"retrieve": "formation.view", "partial_update": "formation.update"}
    pagination_class = None

    @extend_schema(responses={200: FORMATION_SCHEMA})
    def retrieve(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        return Response(formation_data(selectors.formation_list(app=app)))

    @extend_schema(request={"application/json": FORMATION_PATCH_SCHEMA}, responses={200: FORMATION_SCHEMA})
    def partial_update(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        rows, release = services.formation_update(app=app, values=request.data, actor=request.user)
        headers = {RELEASE_HEADER: str(release.version)} if release is not None else {}
        return Response(formation_data(rows), headers=headers)


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/formation/",
        FormationViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="app-formation",
    ),
]
