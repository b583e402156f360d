"""API of the metrics: an app's series, a host's series (staff), a tenant's monthly usage as JSON or CSV."""

import csv
import datetime as dt
import io

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers, viewsets
from rest_framework.response import Response

from deployments import selectors
from deployments.selectors import metrics as metrics_selectors
from tenants.api.base import TenantScopedViewSet
from tenants.permissions import ActionGatedMixin

USAGE_COLUMNS = (
    "month",
    "app",
    "process_type",
    "app_deleted",
    "container_hours",
    "memory_gb_hours",
    "cpu_seconds",
    "build_minutes",
    "egress_bytes",
)


class MetricsQueryInput(serializers.Serializer):
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    step = serializers.IntegerField(required=False, min_value=1, max_value=86400, help_text="Seconds per point.")


def _window(request) -> tuple[dt.datetime, dt.datetime, int]:
    data = MetricsQueryInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    return metrics_selectors.metrics_window(
        now=timezone.now(), **{"since": None, "until": None, "step": None, **data.validated_data}
    )


METRICS_PARAMETERS = [OpenApiParameter(name, str, required=False) for name in ("since", "until", "step")]


class AppMetricsViewSet(TenantScopedViewSet):
    """GET .../apps/{app}/metrics/: CPU, memory and bytes per process type and container, with the limits."""

    permission_actions = {"list": "metrics.view"}
    metadata_action = "metrics.view"
    pagination_class = None

    @extend_schema(parameters=METRICS_PARAMETERS, responses={200: dict})
    def list(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        since, until, step = _window(request)
        return Response(metrics_selectors.app_metrics(tenant=self.tenant, app=app, since=since, until=until, step=step))


class HostMetricsViewSet(ActionGatedMixin, viewsets.GenericViewSet):
    """GET /api/v1/hosts/{name}/metrics/ (staff): the sum of a host's containers against its CPUs and memory."""

    permission_actions = {"retrieve": "host.view"}
    metadata_action = "host.view"
    pagination_class = None

    @extend_schema(parameters=METRICS_PARAMETERS, responses={200: dict})
    def retrieve(self, request, name):
        host = selectors.host_get(name=name)
        since, until, step = _window(request)
        return Response(metrics_selectors.host_metrics(host=host.name, since=since, until=until, step=step))


class UsageCSVRenderer(renderers.BaseRenderer):
    """The usage rows as CSV, one line per app and process type, for billing systems."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=USAGE_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(data["results"])
        return out.getvalue().encode(self.charset)


class UsageQueryInput(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="YYYY-MM (UTC)")


class UsageViewSet(TenantScopedViewSet):
    """GET /api/v1/tenants/{tenant}/usage/?month=YYYY-MM[&format=csv]: what the tenant's apps used that month."""

    permission_actions = {"list": "usage.view"}
    metadata_action = "usage.view"
    pagination_class = None
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, UsageCSVRenderer]

    @extend_schema(parameters=[OpenApiParameter("month", str, required=False)], responses={200: dict})
    def list(self, request, tenant):
        data = UsageQueryInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        month = data.validated_data.get("month") or f"{timezone.now():%Y-%m}"
        first = dt.date(int(month[:4]), int(month[5:7]), 1)
        rows = metrics_selectors.usage_month(tenant=self.tenant, month=first)
        response = Response({"tenant": self.tenant.slug, "month": month, "results": rows})
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = f'attachment; filename="usage-{self.tenant.slug}-{month}.csv"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors keep the documented JSON shape whatever format the caller asked for.
        if response.status_code >= 400:
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = request.accepted_renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/metrics/",
        AppMetricsViewSet.as_view({"get": "list"}),
        name="app-metrics",
    ),
    path("tenants/<str:tenant>/usage/", UsageViewSet.as_view({"get": "list"}), name="tenant-usage"),
    path("hosts/<str:name>/metrics/", HostMetricsViewSet.as_view({"get": "retrieve"}), name="host-metrics"),
]
