"""WebSocket routes."""

from deployments.routing import websocket_urlpatterns as deployment_ws

websocket_urlpatterns = [*deployment_ws]
