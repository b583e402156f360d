"""WebSocket routes: live logs and deployment progress."""

from django.urls import path

from deployments import consumers

websocket_urlpatterns: list = [
    path(
        "ws/tenants/<str:tenant>/apps/<str:app>/deployments/<str:deployment>/",
        consumers.DeploymentProgressConsumer.as_asgi(),
    ),
]
