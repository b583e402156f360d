"""API of apps: list, create, show, update, delete."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments import selectors
from deployments.models import App
from deployments.services import apps as services
from portal.api import CursorPagination
from tenants.api.base import TenantScopedViewSet
from tenants.models import DNS_LABEL


class AppOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    current_release = serializers.SerializerMethodField(help_text="Version serving now; null before a rollout.")
    latest_release = serializers.SerializerMethodField(help_text="Newest version, live or not.")
    process_types = serializers.SerializerMethodField(help_text="{type: command}; an empty command runs the image's.")
    reconciler = serializers.SerializerMethodField(
        help_text="The reconciler's last pass: state (ok, repairing, backing_off), desired and running containers, "
        "its last repair and when the next may come, how the last dead container ended; null before its first pass."
    )

    class Meta:
        model = App
        fields = [
            "slug",
            "description",
            "url",
            "current_release",
            "latest_release",
            "process_types",
            "release_command",
            "reconciler",
            "created_at",
            "updated_at",
        ]

    def get_url(self, app) -> str:
        return services.app_url(app=app)

    def get_current_release(self, app) -> int | None:
        return app.current_release.version if app.current_release_id else None

    def get_latest_release(self, app) -> int | None:
        if hasattr(app, "latest_version"):
            return app.latest_version
        return selectors.app_latest_version(app=app)

    def get_reconciler(self, app) -> dict | None:
        status = selectors.app_repair_status(app=app)
        if status is None:
            return None
        return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in status.items()}

    def get_process_types(self, app) -> dict[str, str]:
        return {row.process_type: row.command for row in app.formation.all()}


class AppCreateInput(serializers.Serializer):
    slug = serializers.CharField(max_length=40, validators=[DNS_LABEL])
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class AppUpdateInput(serializers.Serializer):
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class AppPagination(CursorPagination):
    ordering = "slug"


class AppViewSet(TenantScopedViewSet):
    """A tenant's apps. Deleting one takes the admin scope."""

    permission_actions = {
        "list": "app.view",
        "create": "app.create",
        "retrieve": "app.view",
        "partial_update": "app.update",
        "destroy": "app.delete",
    }
    serializer_class = AppOutput
    pagination_class = AppPagination
    lookup_url_kwarg = "app"

    def _out(self, app: App, **kwargs) -> Response:
        return Response(AppOutput(selectors.app_get(tenant=self.tenant, slug=app.slug)).data, **kwargs)

    def list(self, request, tenant):
        page = self.paginate_queryset(selectors.app_list(tenant=self.tenant))
        return self.get_paginated_response(AppOutput(page, many=True).data)

    @extend_schema(request=AppCreateInput, responses={201: AppOutput})
    def create(self, request, tenant):
        data = AppCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        app = services.app_create(tenant=self.tenant, actor=request.user, **data.validated_data)
        return self._out(app, status=status.HTTP_201_CREATED)

    def retrieve(self, request, tenant, app):
        return Response(AppOutput(selectors.app_get(tenant=self.tenant, slug=app)).data)

    @extend_schema(request=AppUpdateInput, responses={200: AppOutput})
    def partial_update(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        data = AppUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        app = services.app_update(app=app, actor=request.user, **data.validated_data)
        return self._out(app)

    def destroy(self, request, tenant, app):
        services.app_delete(app=selectors.app_get(tenant=self.tenant, slug=app), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("tenants/<str:tenant>/apps/", AppViewSet.as_view({"get": "list", "post": "create"}), name="app-list"),
    path(
        "tenants/<str:tenant>/apps/<str:app>/",
        AppViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="app-detail",
    ),
]
