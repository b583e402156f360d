"""API of a tenant's log sink: show it (never its credentials), point it at an OpenSearch, reset it."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments import selectors
from deployments.models import LogSink, SinkKind
from deployments.services import log_sinks as services
from tenants.api.base import TenantScopedViewSet


class LogSinkOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SinkKind.choices)
    url = serializers.CharField()
    index_prefix = serializers.CharField()
    retention_days = serializers.IntegerField()
    has_credentials = serializers.BooleanField(help_text="Whether a user name and password are stored (never shown).")


class LogSinkInput(serializers.Serializer):
    url = serializers.CharField(max_length=300, help_text="The OpenSearch or Elasticsearch URL, http(s)://host:port.")
    index_prefix = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]{0,40}$", required=False, default="")
    username = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    password = serializers.CharField(max_length=200, required=False, default="", allow_blank=True, write_only=True)
    retention_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, default=7)


def _out(sink: LogSink | None) -> dict:
    if sink is None:
        sink = LogSink(kind=SinkKind.DATABASE)
    return LogSinkOutput(
        {
            "kind": sink.kind,
            "url": sink.url,
            "index_prefix": sink.index_prefix,
            "retention_days": sink.retention_days,
            "has_credentials": bool(sink.credentials),
        }
    ).data


class LogSinkViewSet(TenantScopedViewSet):
    """Where the tenant's logs go; tenant admins only, since it names a cluster and its credentials."""

    permission_actions = {"retrieve": "logsink.view", "update": "logsink.manage", "destroy": "logsink.manage"}
    serializer_class = LogSinkOutput

    def retrieve(self, request, tenant):
        return Response(_out(selectors.log_sink_of(tenant=self.tenant)))

    @extend_schema(request=LogSinkInput, responses={200: LogSinkOutput})
    def update(self, request, tenant):
        data = LogSinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        sink = services.log_sink_configure(actor=request.user, tenant=self.tenant, **data.validated_data)
        return Response(_out(sink))

    def destroy(self, request, tenant):
        services.log_sink_reset(actor=request.user, tenant=self.tenant)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path(
        "tenants/<str:tenant>/log-sink/",
        LogSinkViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
        name="log-sink",
    ),
]
