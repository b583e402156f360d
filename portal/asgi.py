"""ASGI entry point: HTTP through Django, WebSockets through Channels (Origin checked for sessions, see ws_auth)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (Django must be set up first)

from portal.routing import websocket_urlpatterns  # noqa: E402
from tenants.ws_auth import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(URLRouter(websocket_urlpatterns)),
    }
)
