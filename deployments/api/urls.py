"""API routes of the deployment domain: each area keeps its own urlpatterns in its module."""

from deployments.api import builds

urlpatterns = [
    *builds.urlpatterns,
]
