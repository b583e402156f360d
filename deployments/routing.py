"""WebSocket routes: live logs and deployment progress."""

websocket_urlpatterns: list = []
