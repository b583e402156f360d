"""API routes of apps, config, builds, releases, rollouts, hosts and logs."""

urlpatterns: list = []
