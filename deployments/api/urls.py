"""API routes of the deployment domain: most areas keep their own urlpatterns in their module."""

from django.urls import path

from deployments.api import apps, builds, config, deployments, formation, gc, hosts, logs, releases

urlpatterns = [
    *apps.urlpatterns,
    *config.urlpatterns,
    *releases.urlpatterns,
    *formation.urlpatterns,
    *builds.urlpatterns,
    *logs.urlpatterns,
    *gc.urlpatterns,
    path("hosts/", hosts.HostViewSet.as_view({"get": "list", "post": "create"}), name="host-list"),
    path(
        "hosts/<str:name>/",
        hosts.HostViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="host-detail",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/deployments/",
        deployments.DeploymentViewSet.as_view({"get": "list"}),
        name="deployment-list",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/deployments/<str:pk>/",
        deployments.DeploymentViewSet.as_view({"get": "retrieve"}),
        name="deployment-detail",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/containers/",
        deployments.ContainerViewSet.as_view({"get": "list"}),
        name="container-list",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/containers/<str:pk>/restart/",
        deployments.ContainerViewSet.as_view({"post": "restart"}),
        name="container-restart",
    ),
]
