"""WebSocket routes of the live logs."""

from django.urls import path

from deployments.logs.consumers import LogConsumer

websocket_urlpatterns = [
    path("ws/tenants/<str:tenant>/apps/<str:app>/logs/", LogConsumer.as_asgi(), name="ws-logs"),
]
