"""Staff API of garbage collection: run it on a host (or only list what it would remove) and read past runs."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from deployments.models import GcRun
from deployments.selectors import gc_run_list, host_get
from deployments.services import gc as services
from tenants.permissions import ActionGatedMixin


class GcRunOutput(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name")

    class Meta:
        model = GcRun
        fields = ["id", "host", "dry_run", "removed", "bytes_reclaimed", "error", "created_at"]


class GcRunInput(serializers.Serializer):
    dry_run = serializers.BooleanField()


class GcRunViewSet(ActionGatedMixin, viewsets.GenericViewSet):
    """Garbage collection of one Docker host (staff only): POST runs it now and answers the recorded run."""

    permission_actions = {"list": "host.view", "create": "host.manage"}
    metadata_action = "host.view"
    serializer_class = GcRunOutput

    def list(self, request, name):
        page = self.paginate_queryset(gc_run_list(host=host_get(name=name)))
        return self.get_paginated_response(GcRunOutput(page, many=True).data)

    @extend_schema(request=GcRunInput, responses={201: GcRunOutput})
    def create(self, request, name):
        host = host_get(name=name)
        data = GcRunInput(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.gc_run(host=host, dry_run=data.validated_data["dry_run"], actor=request.user)
        return Response(GcRunOutput(run).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("hosts/<str:name>/gc/", GcRunViewSet.as_view({"get": "list", "post": "create"}), name="host-gc"),
]
