"""API of an app's deployments (rollouts and scales) and its live containers."""

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments import selectors
from deployments.models import Deployment
from deployments.services import containers as container_services
from tenants.api.base import TenantScopedViewSet


class DeploymentOutput(serializers.ModelSerializer):
    release = serializers.IntegerField(source="release.version")
    status = serializers.CharField(read_only=True, help_text="pending, running, succeeded, failed or superseded")

    class Meta:
        model = Deployment
        fields = [
            "id",
            "kind",
            "release",
            "status",
            "progress",
            "steps",
            "plan",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ContainerOutput(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    host = serializers.CharField()
    process_type = serializers.CharField()
    index = serializers.IntegerField()
    release = serializers.IntegerField()
    state = serializers.CharField()
    status = serializers.CharField()
    host_port = serializers.IntegerField(
        allow_null=True, help_text="The port published on the host; none on a host that routes by container network."
    )
    routed = serializers.BooleanField()


class ContainerListOutput(serializers.Serializer):
    results = ContainerOutput(many=True)
    unreachable_hosts = serializers.ListField(child=serializers.CharField())


class DeploymentViewSet(TenantScopedViewSet):
    """Rollouts of an app's releases, newest first; each carries its steps with timestamps."""

    permission_actions = {"list": "deployment.view", "retrieve": "deployment.view"}
    serializer_class = DeploymentOutput

    def list(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        page = self.paginate_queryset(selectors.deployment_list(app=app))
        return self.get_paginated_response(DeploymentOutput(page, many=True).data)

    def retrieve(self, request, tenant, app, pk):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        if not str(pk).isdigit():
            raise Http404("No such deployment.")
        return Response(DeploymentOutput(selectors.deployment_get(app=app, deployment_id=int(pk))).data)


class ContainerViewSet(TenantScopedViewSet):
    """An app's containers as the engines report them now; restart one in place."""

    permission_actions = {"list": "container.view", "restart": "container.restart"}
    serializer_class = ContainerOutput
    pagination_class = None

    @extend_schema(responses={200: ContainerListOutput})
    def list(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        found, unreachable = container_services.container_list(app=app)
        return Response({"results": ContainerOutput(found, many=True).data, "unreachable_hosts": unreachable})

    @extend_schema(request=None, responses={202: None})
    def restart(self, request, tenant, app, pk):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        container = selectors.container_get(app=app, container_id=pk)
        container_services.container_restart(actor=request.user, app=app, container=container)
        return Response({"id": container.engine_id[:12], "restarted": True}, status=status.HTTP_202_ACCEPTED)


APP = "tenants/<str:tenant>/apps/<str:app>/"
urlpatterns = [
    path(f"{APP}deployments/", DeploymentViewSet.as_view({"get": "list"}), name="deployment-list"),
    path(f"{APP}deployments/<str:pk>/", DeploymentViewSet.as_view({"get": "retrieve"}), name="deployment-detail"),
    path(f"{APP}containers/", ContainerViewSet.as_view({"get": "list"}), name="container-list"),
    path(f"{APP}containers/<str:pk>/restart/", ContainerViewSet.as_view({"post": "restart"}), name="container-restart"),
]
