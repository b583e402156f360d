"""The router's view of the apps: hostnames and the routed web containers, and applying it to nginx.

Several router machines may serve the same routes (`manage.py router` beside each nginx). A change of what they must
serve bumps the routes version in the transaction that makes it (`routing_bump`); each router applies it within
ROUTER_POLL seconds, waits until the nginx workers its reload replaced have exited, and reports the version as drained
(`RouterNode`). `routes_switch` returns once every live router drained a version: only then may a rollout stop the
containers it took out of the routes. A process that runs the router itself (BERTH_ROUTER_INLINE, the embedded mode and
tests) applies the routes directly instead of waiting for its loop.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from deployments.models import App, Container, ContainerState, Domain, RouterNode, RoutingState
from deployments.models.apps import WEB_PROCESS
from deployments.router import Nginx, Route, RouterError, router

logger = logging.getLogger(__name__)

# How often a router looks for a new routes version, applies everything anyway, and says it is alive; after how long
# without a word it no longer counts; how long the replaced nginx workers may take to finish their requests.
ROUTER_POLL = 0.1
ROUTER_FULL_SYNC = 5.0
ROUTER_REPORT = 1.0
ROUTER_STALE = timedelta(seconds=15)
DRAIN_WAIT = 10.0


def app_hostname(*, app: App) -> str:
    return f"{app.slug}.{app.tenant.slug}.{settings.BERTH_APPS_DOMAIN}"


def routes_collect() -> list[Route]:
    """Return one route per app with a web process: its names and the containers the router sends traffic to."""
    upstreams: dict[int, list[str]] = {}
    routed = (
        Container.objects.filter(
            process_type=WEB_PROCESS, routed=True, state=ContainerState.RUNNING, host_port__isnull=False
        )
        .select_related("host")
        .order_by("app_id", "index", "id")
    )
    for container in routed:
        upstreams.setdefault(container.app_id, []).append(f"{container.host.address}:{container.host_port}")
    domains: dict[int, list[str]] = {}
    for app_id, hostname in Domain.objects.values_list("app_id", "hostname"):
        domains.setdefault(app_id, []).append(hostname.lower())
    apps = App.objects.select_related("tenant").filter(pk__in=set(upstreams) | set(domains) | _apps_with_release())
    return [
        Route(
            key=f"{app.tenant.slug}__{app.slug}",
            hostnames=(app_hostname(app=app), *sorted(domains.get(app.pk, []))),
            upstreams=tuple(upstreams.get(app.pk, [])),
        )
        for app in apps
    ]


def _apps_with_release() -> set[int]:
    return set(App.objects.filter(current_release__isnull=False).values_list("pk", flat=True))


# --- the routes version and the routers -------------------------------------------------------------------------------


def routing_bump() -> int:
    """Count a change of what the routers must serve; call it inside the transaction making the change.

    Returns the new version (the row stays locked until that transaction ends, so versions follow commit order).
    """
    if not RoutingState.objects.filter(pk=1).update(version=F("version") + 1):
        try:
            with transaction.atomic():
                RoutingState.objects.create(pk=1, version=1)
        except IntegrityError:  # another transaction created it first
            RoutingState.objects.filter(pk=1).update(version=F("version") + 1)
    return RoutingState.objects.values_list("version", flat=True).get(pk=1)


def routing_version() -> int:
    return RoutingState.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def router_name() -> str:
    """This machine's router, as it reports itself."""
    return settings.BERTH_ROUTER_NAME or f"{socket.gethostname()}:{settings.BERTH_ROUTER_PORT}"


def router_report(*, name: str, version: int) -> None:
    """Record that router `name` is alive and serves routes `version` with no older worker left (never goes back)."""
    now = timezone.now()
    node, created = RouterNode.objects.get_or_create(name=name, defaults={"drained_version": version, "last_seen": now})
    if not created:
        RouterNode.objects.filter(pk=node.pk).update(last_seen=now)
        RouterNode.objects.filter(pk=node.pk, drained_version__lt=version).update(drained_version=version)


def routes_drain(*, nginx: Nginx | None = None) -> None:
    """Apply the current routes to this machine's nginx and wait until the workers the reload replaced have exited."""
    nginx = nginx or router()
    applied = nginx.apply(routes_collect())
    if not nginx.wait_exited(applied.replaced, timeout=DRAIN_WAIT):
        logger.warning("nginx workers of a previous config still run after %.0f s", DRAIN_WAIT)


def routers_wait(version: int, *, timeout: float | None = None) -> None:
    """Return once every live router drained routes `version`; RouterError names the ones that did not in time."""
    timeout = settings.BERTH_ROUTER_SWITCH_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        behind = list(
            RouterNode.objects.filter(
                last_seen__gte=timezone.now() - ROUTER_STALE, drained_version__lt=version
            ).values_list("name", flat=True)
        )
        if not behind:
            return
        if time.monotonic() > deadline:
            raise RouterError(
                f"Router(s) {', '.join(behind)} did not serve the new routes within {timeout:.0f} s: "
                "check that `manage.py router` runs there and that nginx accepts its config."
            )
        time.sleep(0.05)


def routes_switch(version: int) -> None:
    """Make the routers serve routes `version` (applied here when this process runs the router), and wait for all."""
    if settings.BERTH_ROUTER_INLINE:
        routes_drain()
        router_report(name=router_name(), version=version)
    routers_wait(version)


def router_loop(*, name: str | None = None, nginx: Nginx | None = None, stop: threading.Event | None = None) -> None:
    """Run one router: serve every routes version within ROUTER_POLL s (everything anyway every ROUTER_FULL_SYNC s)."""
    name = name or router_name()
    stop = stop or threading.Event()
    try:
        _serve(name=name, nginx=nginx, stop=stop)
    finally:
        connection.close()


def _serve(*, name: str, nginx: Nginx | None, stop: threading.Event) -> None:
    served, last_full, last_report = -1, 0.0, 0.0
    while not stop.is_set():
        close_old_connections()
        try:
            version = routing_version()
            now = time.monotonic()
            if version != served or now - last_full >= ROUTER_FULL_SYNC:
                routes_drain(nginx=nginx)
                served, last_full = version, now
                router_report(name=name, version=version)
                last_report = now
            elif now - last_report >= ROUTER_REPORT:
                router_report(name=name, version=served)
                last_report = now
        except Exception:
            logger.exception("router %s: routes not applied", name)
        stop.wait(ROUTER_POLL)
