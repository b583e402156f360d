"""API of the formation: per process type quantity, memory, CPU and health check."""

from decimal import Decimal

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from deployments import selectors
from deployments.api.config import RELEASE_HEADER
from deployments.services import formation as services
from deployments.services.releases import formation_entry
from tenants.api.base import TenantScopedViewSet


class ProcessOutput(serializers.Serializer):
    command = serializers.CharField(help_text="Empty: the image's own command.")
    quantity = serializers.IntegerField()
    memory = serializers.CharField(help_text='Like "256m" or "1g".')
    memory_mb = serializers.IntegerField()
    cpu = serializers.FloatField()
    healthcheck = serializers.JSONField(help_text='"/path" (HTTP on $PORT), {"command": "..."} or null.')
    healthcheck_timeout = serializers.IntegerField()


class FormationOutput(serializers.DictField):
    child = ProcessOutput()


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
    }


def formation_data(rows) -> dict:
    return {row.process_type: process_data(formation_entry(row)) for row in rows}


class FormationViewSet(TenantScopedViewSet):
    """An app's formation. Scaling alone is not a release; any other change creates one."""

    scope_map = {"GET": ["read"], "PATCH": ["write"]}
    pagination_class = None

    @extend_schema(responses={200: FormationOutput})
    def retrieve(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        return Response(formation_data(selectors.formation_list(app=app)))

    @extend_schema(request=FormationOutput, responses={200: FormationOutput})
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
