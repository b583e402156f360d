"""API routes of apps, config, builds, releases, rollouts, hosts and logs."""

from django.urls import path

from deployments.api import deployments, hosts

urlpatterns = [
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
