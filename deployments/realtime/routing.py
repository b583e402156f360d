"""Every WebSocket route of Berth: a deployment's progress, an app's live logs, a build's log, terminals."""

from django.urls import path

from deployments.realtime.builds import BuildLogConsumer
from deployments.realtime.deployments import DeploymentProgressConsumer
from deployments.realtime.logs import LogConsumer
from deployments.realtime.terminals import ExecConsumer, RunAttachConsumer

websocket_urlpatterns: list = [
    path(
        "ws/tenants/<str:tenant>/apps/<str:app>/deployments/<str:deployment>/",
        DeploymentProgressConsumer.as_asgi(),
    ),
    path("ws/tenants/<str:tenant>/apps/<str:app>/logs/", LogConsumer.as_asgi(), name="ws-logs"),
    path("ws/tenants/<str:tenant>/apps/<str:app>/builds/<int:number>/", BuildLogConsumer.as_asgi()),
    path("ws/tenants/<str:tenant>/apps/<str:app>/runs/<str:run>/", RunAttachConsumer.as_asgi(), name="ws-run"),
    path(
        "ws/tenants/<str:tenant>/apps/<str:app>/containers/<str:container>/exec/",
        ExecConsumer.as_asgi(),
        name="ws-exec",
    ),
]
