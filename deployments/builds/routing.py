"""WebSocket route of build logs."""

from django.urls import path

from deployments.builds.consumers import BuildLogConsumer

websocket_urlpatterns = [
    path("ws/tenants/<str:tenant>/apps/<str:app>/builds/<int:number>/", BuildLogConsumer.as_asgi()),
]
