"""Staff API of the Swarm clusters: register a manager, list, inspect (its nodes as it reports them), remove."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from deployments.models import Cluster
from deployments.selectors import clusters as selectors
from deployments.services import clusters as services
from tenants.models import DNS_LABEL
from tenants.permissions import ActionGatedMixin


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


urlpatterns = [
    path("clusters/", ClusterViewSet.as_view({"get": "list", "post": "create"}), name="cluster-list"),
    path(
        "clusters/<str:name>/", ClusterViewSet.as_view({"get": "retrieve", "delete": "destroy"}), name="cluster-detail"
    ),
]
