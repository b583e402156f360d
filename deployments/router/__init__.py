"""The HTTP router in front of every app: nginx, configured and reloaded by Berth."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from deployments.router import fake
from deployments.router.nginx import Applied, Nginx, Route, RouterError

__all__ = ["Applied", "Nginx", "Route", "RouterError", "router"]


def router() -> Nginx | fake.FakeRouter:
    """Return the router of this installation, configured from settings (its files live under BERTH_DATA_DIR).

    With BERTH_ROUTER=fake, the in-memory router of router/fake.py, which has the same interface.
    """
    if settings.BERTH_ROUTER == "fake":
        return fake.installed()
    prefix = getattr(settings, "BERTH_ROUTER_DIR", None) or Path(settings.DATA_DIR) / "router"
    binary = getattr(settings, "BERTH_NGINX", None) or shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin")
    return Nginx(
        prefix=Path(prefix),
        port=settings.BERTH_ROUTER_PORT,
        binary=binary or "/usr/sbin/nginx",
        bind=getattr(settings, "BERTH_ROUTER_BIND", "127.0.0.1"),
    )
