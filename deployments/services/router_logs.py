"""The router's access log into each app's log stream, as the `router` process (Heroku's router lines).

HAProxy sends one datagram per request to BERTH_DATA_DIR/router/access.sock (deployments/router/access.py); this
reader binds that socket, stamps each line with the app its route key names, and hands it to the log collector's
writer, which stores it in the tenant's sink and then publishes it live, like a container's line. Requests no app
answered (the 404 of an unknown hostname) belong to no tenant and are not stored.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from django.db import close_old_connections

from deployments.logs.collector import Writer
from deployments.logs.records import LogRecord
from deployments.models import App
from deployments.router import router
from deployments.router.access import access_parse
from deployments.services.routes import router_name

logger = logging.getLogger(__name__)

PROCESS = "router"
CONTAINER = "router"
APPS_REFRESH = 5.0  # seconds an app lookup stays cached (a deleted app's lines stop within this)


class AppIndex:
    """Route key ("<tenant>__<app>") -> (tenant id, tenant slug, app id, app slug), read again every APPS_REFRESH s."""

    def __init__(self):
        self._apps: dict[str, tuple[int, str, int, str]] = {}
        self._loaded = 0.0

    def get(self, key: str) -> tuple[int, str, int, str] | None:
        if key not in self._apps or time.monotonic() - self._loaded > APPS_REFRESH:
            self._apps = {
                f"{tenant}__{app}": (tenant_id, tenant, app_id, app)
                for app_id, app, tenant_id, tenant in App.objects.values_list("pk", "slug", "tenant_id", "tenant__slug")
            }
            self._loaded = time.monotonic()
        return self._apps.get(key)


def router_logs_run(stop: threading.Event, *, writer: Writer | None = None) -> None:
    """Read the router's access log until `stop`, into the apps' log streams."""
    path = router().layout.log_socket
    path.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as reader:
        if path.exists():
            os.unlink(path)
        reader.bind(str(path))
        reader.settimeout(0.5)
        # The writer's checkpoints are keyed by a host name (at most 40 characters): this router's.
        writer = writer or Writer(host=f"router:{router_name()}"[:40])
        threading.Thread(target=writer.run, args=(stop,), name="router-logs-writer", daemon=True).start()
        apps = AppIndex()
        rank = 0
        while not stop.is_set():
            try:
                datagram = reader.recv(65536)
            except TimeoutError:
                continue
            entry = access_parse(datagram)
            if entry is None or not entry.route:
                continue
            try:
                app = apps.get(entry.route)
            except Exception:
                close_old_connections()
                logger.exception("router logs: the apps could not be read")
                continue
            if app is None:
                continue
            rank += 1
            tenant_id, tenant, app_id, app_slug = app
            writer.add(
                LogRecord(
                    tenant_id=tenant_id,
                    tenant=tenant,
                    app_id=app_id,
                    app=app_slug,
                    release=None,
                    process=PROCESS,
                    index=None,
                    container=CONTAINER,
                    stream="stdout",
                    timestamp_ns=time.time_ns(),
                    rank=rank,
                    line=entry.line(),
                )
            )
