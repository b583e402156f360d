"""Top-level routes: the UI, the API under /api/v1/, its schema and docs, and the health probes."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from deployments.api.prometheus import PrometheusView
from portal import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", PrometheusView.as_view(), name="prometheus"),
    path("console/admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("tenants.api.urls")),
    path("api/v1/", include("deployments.api.urls")),
    path("", include("tenants.urls")),
    path("", include("deployments.urls")),
]
