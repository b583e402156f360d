"""API routes of the deployment domain: each area keeps its own urlpatterns in its module."""

from deployments.api import apps, config, formation, releases

urlpatterns = [
    *apps.urlpatterns,
    *config.urlpatterns,
    *releases.urlpatterns,
    *formation.urlpatterns,
]
