"""API of releases: the history of an app, one release, and rollback."""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments import selectors
from deployments.api.config import CONFIG_SCHEMA
from deployments.api.formation import FORMATION_SCHEMA, process_data
from deployments.models import Release
from deployments.services import releases as services
from portal.api import CursorPagination
from tenants.api.base import TenantScopedViewSet


class ReleaseOutput(serializers.ModelSerializer):
    build = serializers.IntegerField(source="build.number", allow_null=True, default=None)
    image = serializers.SerializerMethodField()
    config = serializers.SerializerMethodField(help_text="Secret values are masked.")
    formation = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    current = serializers.SerializerMethodField(help_text="Whether this release serves now.")

    class Meta:
        model = Release
        fields = [
            "version",
            "status",
            "summary",
            "build",
            "image",
            "config",
            "formation",
            "release_command",
            "rollback_of",
            "error",
            "current",
            "created_by",
            "created_at",
            "finished_at",
        ]

    def get_image(self, release) -> str | None:
        return release.build.image if release.build_id else None

    @extend_schema_field(CONFIG_SCHEMA)
    def get_config(self, release) -> dict[str, str]:
        return services.snapshot_masked(release.config)

    @extend_schema_field(FORMATION_SCHEMA)
    def get_formation(self, release) -> dict:
        return {ptype: process_data(entry) for ptype, entry in sorted(release.formation.items())}

    def get_created_by(self, release) -> str:
        return release.created_by.get_username() if release.created_by_id else "system"

    def get_current(self, release) -> bool:
        return release.app.current_release_id == release.pk


class RollbackInput(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class ReleasePagination(CursorPagination):
    ordering = "-version"


class ReleaseViewSet(TenantScopedViewSet):
    """An app's releases, newest first, and rollback to an earlier succeeded one."""

    permission_actions = {"list": "release.view", "retrieve": "release.view", "rollback": "release.rollback"}
    serializer_class = ReleaseOutput
    pagination_class = ReleasePagination

    def list(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        page = self.paginate_queryset(selectors.release_list(app=app))
        return self.get_paginated_response(ReleaseOutput(page, many=True).data)

    def retrieve(self, request, tenant, app, version):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        return Response(ReleaseOutput(selectors.release_get(app=app, version=version)).data)

    @extend_schema(request=RollbackInput, responses={201: ReleaseOutput})
    def rollback(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        data = RollbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        release = services.release_rollback(app=app, version=data.validated_data["version"], actor=request.user)
        return Response(ReleaseOutput(release).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/releases/",
        ReleaseViewSet.as_view({"get": "list"}),
        name="release-list",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/releases/<int:version>/",
        ReleaseViewSet.as_view({"get": "retrieve"}),
        name="release-detail",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/rollback/",
        ReleaseViewSet.as_view({"post": "rollback"}),
        name="release-rollback",
    ),
]
