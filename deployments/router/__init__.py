"""The HTTP router in front of every app: HAProxy, driven through its runtime API by Berth."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from django.conf import settings

from deployments.router.config import Route, RouteSettings
from deployments.router.haproxy import Applied, HAProxy, RouterError

__all__ = ["Applied", "HAProxy", "Route", "RouteSettings", "RouterError", "router"]

_routers: dict[tuple, HAProxy] = {}
_routers_lock = threading.Lock()


def router() -> HAProxy:
    """Return the router of this installation, configured from settings (its files live under BERTH_DATA_DIR).

    One driver per router directory and process: it keeps what HAProxy serves in memory between two changes.
    """
    prefix = Path(getattr(settings, "BERTH_ROUTER_DIR", None) or Path(settings.DATA_DIR) / "router").resolve()
    binary = getattr(settings, "BERTH_HAPROXY", None) or shutil.which("haproxy", path="/usr/sbin:/usr/bin:/sbin")
    bind = getattr(settings, "BERTH_ROUTER_BIND", "127.0.0.1")
    key = (prefix, settings.BERTH_ROUTER_PORT, settings.BERTH_ROUTER_TLS_PORT, bind, binary)
    with _routers_lock:
        if key not in _routers:
            _routers[key] = HAProxy(
                prefix=prefix,
                port=settings.BERTH_ROUTER_PORT,
                tls_port=settings.BERTH_ROUTER_TLS_PORT,
                binary=binary or "/usr/sbin/haproxy",
                bind=bind,
                https_port=settings.BERTH_ROUTER_HTTPS_PORT or settings.BERTH_ROUTER_TLS_PORT,
            )
        return _routers[key]
