"""Staff API of the Docker hosts: register, inspect, relabel, drain and remove."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from deployments import selectors
from deployments.models import DockerHost, HostRouting
from deployments.services import hosts as services
from tenants.models import DNS_LABEL
from tenants.permissions import ActionGatedMixin


class HostOutput(serializers.ModelSerializer):
    tls = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True, help_text="ready, draining or down")

    class Meta:
        model = DockerHost
        fields = [
            "name",
            "engine_url",
            "address",
            "routing",
            "labels",
            "is_builder",
            "capacity_containers",
            "capacity_memory_mb",
            "status",
            "last_heartbeat_at",
            "engine_version",
            "running_containers",
            "free_memory_mb",
            "last_error",
            "tls",
            "created_at",
        ]

    def get_tls(self, host) -> bool:
        # The certificates themselves never leave the server.
        return bool(host.tls_cert)


class HostCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=40, validators=[DNS_LABEL])
    engine_url = serializers.CharField(max_length=300)
    address = serializers.CharField(max_length=255, default="127.0.0.1")
    routing = serializers.ChoiceField(
        choices=HostRouting.choices,
        default="port",
        help_text="How routers reach the host's web containers: port (a port published on `address`, routers "
        "anywhere) or network (the container's address on its tenant network: routers on the host's machine; no "
        "published port and no docker-proxy process per container)",
    )
    labels = serializers.DictField(child=serializers.CharField(max_length=200), required=False, default=dict)
    is_builder = serializers.BooleanField(default=False)
    capacity_containers = serializers.IntegerField(min_value=1, max_value=100000, default=100)
    capacity_memory_mb = serializers.IntegerField(min_value=64, max_value=100_000_000, default=16384)
    tls_ca = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    tls_cert = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    tls_key = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)


class HostUpdateInput(serializers.Serializer):
    address = serializers.CharField(max_length=255, required=False)
    routing = serializers.ChoiceField(
        choices=HostRouting.choices,
        required=False,
        help_text="How routers reach the host's web containers: port (a port published on `address`, routers "
        "anywhere) or network (the container's address on its tenant network: routers on the host's machine; no "
        "published port and no docker-proxy process per container)",
    )
    labels = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    is_builder = serializers.BooleanField(required=False)
    capacity_containers = serializers.IntegerField(min_value=1, max_value=100000, required=False)
    capacity_memory_mb = serializers.IntegerField(min_value=64, max_value=100_000_000, required=False)
    # The statuses a staff member may set (down is the heartbeat's); named HostSettableStatusEnum in the schema.
    status = serializers.ChoiceField(
        choices=["ready", "draining"], required=False, help_text="ready, or draining: no new placements"
    )


class HostViewSet(ActionGatedMixin, viewsets.GenericViewSet):
    """The fleet's Docker hosts (staff only). Setting `status` to `draining` stops new placements on a host."""

    permission_actions = {
        "list": "host.view",
        "retrieve": "host.view",
        "create": "host.manage",
        "partial_update": "host.manage",
        "destroy": "host.manage",
    }
    metadata_action = "host.view"
    serializer_class = HostOutput
    lookup_url_kwarg = "name"

    def get_queryset(self):
        return selectors.host_list()

    def list(self, request):
        page = self.paginate_queryset(selectors.host_list())
        return self.get_paginated_response(HostOutput(page, many=True).data)

    @extend_schema(request=HostCreateInput, responses={201: HostOutput})
    def create(self, request):
        data = HostCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        host = services.host_create(actor=request.user, **data.validated_data)
        return Response(HostOutput(host).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, name):
        return Response(HostOutput(selectors.host_get(name=name)).data)

    @extend_schema(request=HostUpdateInput, responses={200: HostOutput})
    def partial_update(self, request, name):
        host = selectors.host_get(name=name)
        data = HostUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        host = services.host_update(actor=request.user, host=host, **data.validated_data)
        return Response(HostOutput(host).data)

    def destroy(self, request, name):
        services.host_delete(actor=request.user, host=selectors.host_get(name=name))
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("hosts/", HostViewSet.as_view({"get": "list", "post": "create"}), name="host-list"),
    path(
        "hosts/<str:name>/",
        HostViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="host-detail",
    ),
]
