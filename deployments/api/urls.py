"""API routes of apps, config, builds, releases, rollouts, hosts and logs."""

from deployments.api import logs

urlpatterns: list = [*logs.urlpatterns]
