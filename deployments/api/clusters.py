"""Staff API of the Swarm clusters: register a manager, list, inspect (its nodes as it reports them), remove."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from deployments.api.hosts import HostOutput
from deployments.models import Cluster
from deployments.selectors import clusters as selectors
from deployments.selectors.apps import app_get
from deployments.services import clusters as services
from portal.errors import NotFound
from tenants.models import DNS_LABEL
from tenants.permissions import ActionGatedMixin
from tenants.selectors import tenant_get_by_slug


class NodeOutput(serializers.Serializer):
    id = serializers.CharField()
    address = serializers.CharField()
    state = serializers.CharField(help_text="ready, down, unknown...")
    availability = serializers.CharField(help_text="active, pause or drain")
    role = serializers.CharField(help_text="manager or worker")
    labels = serializers.DictField(child=serializers.CharField())


class ClusterOutput(serializers.ModelSerializer):
    tls = serializers.SerializerMethodField()

    class Meta:
        model = Cluster
        fields = ["name", "manager_url", "engine_version", "tls", "created_at"]

    def get_tls(self, cluster) -> bool:
        # The certificates themselves never leave the server.
        return bool(cluster.tls_cert)


class ClusterDetailOutput(ClusterOutput):
    nodes = NodeOutput(many=True, read_only=True)
    nodes_error = serializers.CharField(read_only=True, help_text="Why the nodes could not be read ('' when they were)")

    class Meta(ClusterOutput.Meta):
        fields = [*ClusterOutput.Meta.fields, "nodes", "nodes_error"]


class ClusterCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=40, validators=[DNS_LABEL])
    manager_url = serializers.CharField(max_length=300, help_text="unix:///path or tcp://host:2376 (with TLS)")
    tls_ca = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    tls_cert = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    tls_key = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)


class NodeHostInput(serializers.Serializer):
    name = serializers.CharField(max_length=40, validators=[DNS_LABEL], help_text="The host's name in Berth")
    engine_url = serializers.CharField(max_length=300, help_text="The node's own engine: unix:///path or tcp://...")
    address = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default="", help_text="Where the router reaches the "
        "node's published ports; the node's Swarm address when empty",
    )  # fmt: skip
    tls_ca = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    tls_cert = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    tls_key = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)


class AppPlacementInput(serializers.Serializer):
    tenant = serializers.CharField(max_length=40)
    app = serializers.CharField(max_length=40)


class AppPlacementOutput(serializers.Serializer):
    tenant = serializers.CharField()
    app = serializers.CharField()
    cluster = serializers.CharField(allow_null=True, help_text="null: the app runs on the hosts")


def _app(data: dict):
    tenant = tenant_get_by_slug(slug=data["tenant"])
    if tenant is None:
        raise NotFound()
    return app_get(tenant=tenant, slug=data["app"])


def _placement(app) -> dict:
    return {"tenant": app.tenant.slug, "app": app.slug, "cluster": app.cluster.name if app.cluster_id else None}


def _detail(cluster: Cluster, nodes: list[dict], error: str = "") -> dict:
    # ClusterDetailOutput documents this shape in the schema.
    return {**ClusterOutput(cluster).data, "nodes": NodeOutput(nodes, many=True).data, "nodes_error": error}


class ClusterViewSet(ActionGatedMixin, viewsets.GenericViewSet):
    """The Docker Swarm clusters staff registered, each reached through one manager's engine (staff only)."""

    permission_actions = {
        "list": "host.view",
        "retrieve": "host.view",
        "create": "host.manage",
        "destroy": "host.manage",
        "node_add": "host.manage",
        "app_place": "host.manage",
        "app_unplace": "host.manage",
    }
    metadata_action = "host.view"
    serializer_class = ClusterOutput
    lookup_url_kwarg = "name"

    def get_queryset(self):
        return selectors.cluster_list()

    def list(self, request):
        page = self.paginate_queryset(selectors.cluster_list())
        return self.get_paginated_response(ClusterOutput(page, many=True).data)

    @extend_schema(request=ClusterCreateInput, responses={201: ClusterDetailOutput})
    def create(self, request):
        data = ClusterCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        cluster, nodes = services.cluster_create(actor=request.user, **data.validated_data)
        return Response(_detail(cluster, nodes), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ClusterDetailOutput})
    def retrieve(self, request, name):
        cluster = selectors.cluster_get(name=name)
        nodes, error = services.cluster_nodes(cluster=cluster)
        return Response(_detail(cluster, nodes, error))

    def destroy(self, request, name):
        services.cluster_delete(actor=request.user, cluster=selectors.cluster_get(name=name))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=NodeHostInput, responses={201: HostOutput})
    def node_add(self, request, name):
        """Register a node's own engine as a host of the cluster (it must be a node of this cluster)."""
        cluster = selectors.cluster_get(name=name)
        data = NodeHostInput(data=request.data)
        data.is_valid(raise_exception=True)
        host = services.cluster_node_add(actor=request.user, cluster=cluster, **data.validated_data)
        return Response(HostOutput(host).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AppPlacementInput, responses={200: AppPlacementOutput})
    def app_place(self, request, name):
        """Run an app on this cluster from its next rollout on."""
        cluster = selectors.cluster_get(name=name)
        data = AppPlacementInput(data=request.data)
        data.is_valid(raise_exception=True)
        app = services.app_cluster_set(actor=request.user, app=_app(data.validated_data), cluster=cluster)
        return Response(_placement(app))

    @extend_schema(request=None, responses={200: AppPlacementOutput})
    def app_unplace(self, request, name, tenant, app):
        """Put an app of this cluster back on the hosts from its next rollout on."""
        cluster = selectors.cluster_get(name=name)
        found = _app({"tenant": tenant, "app": app})
        if found.cluster_id != cluster.pk:
            raise NotFound()
        return Response(_placement(services.app_cluster_set(actor=request.user, app=found, cluster=None)))


urlpatterns = [
    path("clusters/", ClusterViewSet.as_view({"get": "list", "post": "create"}), name="cluster-list"),
    path(
        "clusters/<str:name>/", ClusterViewSet.as_view({"get": "retrieve", "delete": "destroy"}), name="cluster-detail"
    ),
    path("clusters/<str:name>/nodes/", ClusterViewSet.as_view({"post": "node_add"}), name="cluster-nodes"),
    path("clusters/<str:name>/apps/", ClusterViewSet.as_view({"post": "app_place"}), name="cluster-apps"),
    path(
        "clusters/<str:name>/apps/<str:tenant>/<str:app>/",
        ClusterViewSet.as_view({"delete": "app_unplace"}),
        name="cluster-app",
    ),
]
