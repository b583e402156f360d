"""GET /metrics: Prometheus text for operators, read by staff or with the scrape token (BERTH_METRICS_TOKEN).

Every scrape builds a fresh registry from the store (deployments.selectors.metrics.prometheus_snapshot), so any
process serving the API answers the same, and nothing is kept in memory between scrapes.
"""

import hmac

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from rest_framework import authentication, permissions, renderers
from rest_framework.views import APIView

from deployments.selectors.metrics import prometheus_snapshot
from tenants.permissions import request_permissions

SCRAPE = "scrape-token"


class ScrapeTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <BERTH_METRICS_TOKEN>`: a scraper, not a user; any other bearer goes on to API tokens."""

    def authenticate(self, request):
        expected = settings.BERTH_METRICS_TOKEN
        header = authentication.get_authorization_header(request).split()
        if not expected or len(header) != 2 or header[0].lower() != b"bearer":
            return None
        if hmac.compare_digest(header[1], expected.encode()):
            return AnonymousUser(), SCRAPE
        return None

    def authenticate_header(self, request):
        return 'Bearer realm="metrics"'


class MetricsReaderPermission(permissions.BasePermission):
    """The scrape token, or staff acting with `read` (a session or an unrestricted staff token); no one else."""

    message = "Only platform staff or the configured scrape token may read /metrics."

    def has_permission(self, request, view) -> bool:
        return request.auth == SCRAPE or request_permissions(request, None).allows("host.view")


class PrometheusRenderer(renderers.BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only refusals come here (the metrics themselves are an HttpResponse): say why on one line.
        if isinstance(data, dict):
            data = data.get("error", {}).get("message") or data.get("detail") or data
        return f"{data}\n".encode()


def _families(snapshot: dict):
    host_labels = ["host"]
    app_labels = ["tenant", "app", "process", "container"]
    host_gauges = {
        "cpu": GaugeMetricFamily(
            "berth_host_cpu_percent", "CPU of a host's Berth containers, % of one core", labels=host_labels
        ),
        "cpus": GaugeMetricFamily("berth_host_cpus", "CPUs of the host", labels=host_labels),
        "memory": GaugeMetricFamily(
            "berth_host_memory_bytes", "Memory used by a host's Berth containers", labels=host_labels
        ),
        "memory_total": GaugeMetricFamily("berth_host_memory_total_bytes", "Memory of the host", labels=host_labels),
        "containers": GaugeMetricFamily(
            "berth_host_containers", "Berth containers sampled on the host", labels=host_labels
        ),
    }
    app_gauges = {
        "cpu": GaugeMetricFamily("berth_container_cpu_percent", "CPU of a container, % of one core", labels=app_labels),
        "cpu_limit": GaugeMetricFamily(
            "berth_container_cpu_limit_cores", "CPU limit of a container", labels=app_labels
        ),
        "memory": GaugeMetricFamily("berth_container_memory_bytes", "Memory used by a container", labels=app_labels),
        "memory_limit": GaugeMetricFamily(
            "berth_container_memory_limit_bytes", "Memory limit of a container", labels=app_labels
        ),
        "pids": GaugeMetricFamily("berth_container_pids", "Processes in a container", labels=app_labels),
    }
    for row in snapshot["samples"]:
        if not row["container"]:
            labels = [row["host"]]
            host_gauges["cpu"].add_metric(labels, row["cpu_percent"])
            host_gauges["cpus"].add_metric(labels, row["cpu_limit"])
            host_gauges["memory"].add_metric(labels, row["memory_bytes"])
            host_gauges["memory_total"].add_metric(labels, row["memory_limit_bytes"])
            host_gauges["containers"].add_metric(labels, row["containers"])
            continue
        labels = [row["tenant_slug"], row["app_slug"], row["process_type"], row["container"][:12]]
        app_gauges["cpu"].add_metric(labels, row["cpu_percent"])
        app_gauges["cpu_limit"].add_metric(labels, row["cpu_limit"])
        app_gauges["memory"].add_metric(labels, row["memory_bytes"])
        app_gauges["memory_limit"].add_metric(labels, row["memory_limit_bytes"])
        app_gauges["pids"].add_metric(labels, row["pids"])
    yield from host_gauges.values()
    yield from app_gauges.values()

    event_labels = ["tenant", "app", "process"]
    oom = CounterMetricFamily("berth_app_oom_kills", "Containers of an app killed for memory", labels=event_labels)
    restarts = CounterMetricFamily("berth_app_restarts", "Containers of an app restarted", labels=event_labels)
    for row in snapshot["events"]:
        family = oom if row["kind"] == "oom" else restarts
        family.add_metric([row["tenant_slug"], row["app_slug"], row["process_type"]], row["n"])
    yield oom
    yield restarts

    for name, what in (("rollouts", "rollout"), ("builds", "build")):
        histogram = snapshot[name]
        family = HistogramMetricFamily(f"berth_{what}_duration_seconds", f"Duration of finished {what}s")
        family.add_metric(
            [],
            buckets=[(str(float(bound)), count) for bound, count in histogram["buckets"]]
            + [("+Inf", histogram["count"])],
            sum_value=histogram["sum"],
        )
        yield family

    queue = GaugeMetricFamily("berth_queue_depth", "Tasks waiting in a queue", labels=["queue"])
    for row in snapshot["queues"]:
        queue.add_metric([row["queue_name"]], row["n"])
    yield queue
    sampler = GaugeMetricFamily("berth_sampler_lag_seconds", "Seconds since a host's newest sample", labels=host_labels)
    for host, lag in snapshot["sampler_lag"].items():
        sampler.add_metric([host], lag)
    yield sampler
    collector = GaugeMetricFamily(
        "berth_log_collector_lag_seconds", "Seconds since a host's log collector last stored a line", labels=host_labels
    )
    for host, lag in snapshot["collector_lag"].items():
        collector.add_metric([host], lag)
    yield collector
    dropped = CounterMetricFamily(
        "berth_log_lines_dropped",
        "Log lines the collector dropped while a sink was unreachable",
        labels=["tenant", "app"],
    )
    for row in snapshot["dropped"]:
        dropped.add_metric([row["tenant__slug"], row["app__slug"]], row["dropped"])
    yield dropped


class _Snapshot:
    def __init__(self, snapshot: dict):
        self.snapshot = snapshot

    def collect(self):
        yield from _families(self.snapshot)


class PrometheusView(APIView):
    """The fleet in the Prometheus text format."""

    authentication_classes = [
        ScrapeTokenAuthentication,
        *APIView.authentication_classes,
    ]
    permission_classes = [MetricsReaderPermission]
    renderer_classes = [PrometheusRenderer]

    @extend_schema(exclude=True)
    def get(self, request):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(prometheus_snapshot(now=timezone.now())))
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
