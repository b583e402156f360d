"""API routes of the deployment domain: each area keeps its own urlpatterns in its module."""

from deployments.api import (
    apps,
    builds,
    config,
    deployments,
    domains,
    drains,
    formation,
    gc,
    hosts,
    log_sink,
    logs,
    metrics,
    releases,
    runs,
    webhooks,
)

urlpatterns = [
    *apps.urlpatterns,
    *config.urlpatterns,
    *releases.urlpatterns,
    *formation.urlpatterns,
    *builds.urlpatterns,
    *logs.urlpatterns,
    *gc.urlpatterns,
    *metrics.urlpatterns,
    *hosts.urlpatterns,
    *deployments.urlpatterns,
    *domains.urlpatterns,
    *webhooks.urlpatterns,
    *drains.urlpatterns,
    *log_sink.urlpatterns,
    *runs.urlpatterns,
]
