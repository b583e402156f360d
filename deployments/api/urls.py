"""API routes of the deployment domain: each area keeps its own urlpatterns in its module."""

from deployments.api import (
    apps,
    builds,
    certificates,
    config,
    deployments,
    domains,
    formation,
    gc,
    hosts,
    logs,
    metrics,
    releases,
    router,
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
    *certificates.urlpatterns,
    *router.urlpatterns,
]
