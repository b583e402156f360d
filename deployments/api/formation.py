"""API of the formation: per process type quantity, memory, CPU and health check."""

from decimal import Decimal

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from deployments import selectors
from deployments.api.config import RELEASE_HEADER
from deployments.models.apps import PROCESS_TYPE
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
# What a PATCH may set on one process type, with the bounds services/formation.py enforces.
PROCESS_PATCH_SCHEMA = {
    "type": "object",
    "properties": {
        "quantity": {"type": "integer", "minimum": 0, "maximum": services.MAX_QUANTITY},
        "memory": {
            "description": f"Megabytes, or a size from {services.MIN_MEMORY_MB}m to {services.MAX_MEMORY_MB // 1024}g.",
            "oneOf": [
                {"type": "string", "pattern": r"^\s*\d+\s*[mMgG]?[bB]?\s*$", "example": "256m"},
                {"type": "integer", "minimum": services.MIN_MEMORY_MB, "maximum": services.MAX_MEMORY_MB},
            ],
        },
        "cpu": {"type": "number", "minimum": float(services.MIN_CPU), "maximum": float(services.MAX_CPU)},
        "healthcheck": PROCESS_SCHEMA["properties"]["healthcheck"],
        "healthcheck_timeout": {"type": "integer", "minimum": 1, "maximum": 600},
        "read_only": {"type": "boolean", "description": "A read-only root filesystem (false: writable)."},
        "tmp": {
            "description": f"Size of the tmpfs /tmp, from {services.MIN_TMP_MB}m to {services.MAX_TMP_MB // 1024}g.",
            "oneOf": [
                {"type": "string", "pattern": r"^\s*\d+\s*[mMgG]?[bB]?\s*$", "example": "64m"},
                {"type": "integer", "minimum": services.MIN_TMP_MB, "maximum": services.MAX_TMP_MB},
            ],
        },
        "command": {"type": "string", "maxLength": 2000, "description": 'The key "release" only.'},
    },
    "additionalProperties": False,
    "nullable": True,
}
FORMATION_PATCH_SCHEMA = {
    "type": "object",
    "description": f'Keys are process types ({PROCESS_TYPE.regex.pattern}); the key "release" takes '
    '{"command": "..."} or null.',
    "additionalProperties": PROCESS_PATCH_SCHEMA,
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
