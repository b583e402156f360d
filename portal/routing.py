"""WebSocket routes."""

from deployments.builds.routing import websocket_urlpatterns as build_ws
from deployments.logs.routing import websocket_urlpatterns as logs_ws
from deployments.routing import websocket_urlpatterns as deployment_ws

websocket_urlpatterns = [*deployment_ws, *logs_ws, *build_ws]
