"""The router's view of the apps: hostnames, routed web containers and settings, and applying it to HAProxy.

Several router machines may serve the same routes (`manage.py router` beside each HAProxy). A change of what they must
serve bumps the routes version in the transaction that makes it (`routing_bump`); each router applies it within
ROUTER_POLL seconds at runtime, waits until HAProxy let go of every server the routes no longer name (its own
connection count: `del server` is refused until then), and reports the version as drained (`RouterNode`).
`routes_switch` returns once every live router drained a version: only then may a rollout stop the containers it took
out of the routes. A process that runs the router itself (BERTH_ROUTER_INLINE, the embedded mode and
tests) applies the routes directly instead of waiting for its loop.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from deployments.models import App, Container, ContainerState, Domain, RouterNode, RouterSettings, RoutingState
from deployments.models.apps import WEB_PROCESS
from deployments.router import HAProxy, Route, RouterError, RouteSettings, router
from deployments.services.tls import tls_sync

logger = logging.getLogger(__name__)

# How often a router looks for a new routes version, applies everything anyway, and says it is alive; after how long
# without a word it no longer counts; how long a server taken out of the routes may take to finish its requests.
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
    settings_of = {row.app_id: route_settings(row) for row in RouterSettings.objects.all()}
    return [
        Route(
            key=f"{app.tenant.slug}__{app.slug}",
            hostnames=(app_hostname(app=app), *sorted(domains.get(app.pk, []))),
            upstreams=tuple(upstreams.get(app.pk, [])),
            settings=_suspended(settings_of.get(app.pk, DEFAULT_ROUTE_SETTINGS), app=app),
        )
        for app in apps
    ]


# A suspended tenant's apps answer this (503) through the maintenance mode; kept here, not in suspension.py, so the
# routes module imports no service that imports it back.
SUSPENDED_PAGE = (
    "<!doctype html><title>Suspended</title>"
    "<p>This app is suspended by the platform's operators. Its owners have been told why.\n"
)


def _suspended(route_settings: RouteSettings, *, app: App) -> RouteSettings:
    """The app's settings, with the suspension notice in place of its pages while its tenant is suspended."""
    if app.tenant.suspended_at is None:
        return route_settings
    return dataclasses.replace(route_settings, maintenance=True, maintenance_page=SUSPENDED_PAGE)


DEFAULT_ROUTE_SETTINGS = RouteSettings()


def route_settings(row: RouterSettings) -> RouteSettings:
    """The router's form of an app's settings row."""
    return RouteSettings(
        max_body_mb=row.max_body_mb,
        connect_timeout_s=row.connect_timeout_s,
        read_timeout_s=row.read_timeout_s,
        force_https=row.force_https,
        maintenance=row.maintenance,
        maintenance_page=row.maintenance_page,
        allow=tuple(row.allow),
    )


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


def routes_drain(*, haproxy: HAProxy | None = None) -> None:
    """Apply the current routes to this machine's HAProxy; return once no request can reach a server they dropped."""
    haproxy = haproxy or router()
    applied = haproxy.apply(routes_collect(), drain_timeout=DRAIN_WAIT)
    if applied.undrained:
        logger.warning("router: still busy after %.0f s, cut off: %s", DRAIN_WAIT, ", ".join(applied.undrained))
    # Certificates and ACME answers at runtime too; only what changed since the last sync is sent.
    tls_sync(router=haproxy)


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
                "check that `manage.py router` runs there and that HAProxy accepts its commands."
            )
        time.sleep(0.05)


def routes_switch(version: int) -> None:
    """Make the routers serve routes `version` (applied here when this process runs the router), and wait for all."""
    if settings.BERTH_ROUTER_INLINE:
        routes_drain()
        router_report(name=router_name(), version=version)
    routers_wait(version)


def router_loop(
    *, name: str | None = None, haproxy: HAProxy | None = None, stop: threading.Event | None = None
) -> None:
    """Run one router: serve every routes version within ROUTER_POLL s (everything anyway every ROUTER_FULL_SYNC s)."""
    name = name or router_name()
    stop = stop or threading.Event()
    try:
        _serve(name=name, haproxy=haproxy, stop=stop)
    finally:
        connection.close()


def _serve(*, name: str, haproxy: HAProxy | None, stop: threading.Event) -> None:
    served, last_full, last_report = -1, 0.0, 0.0
    while not stop.is_set():
        close_old_connections()
        try:
            version = routing_version()
            now = time.monotonic()
            if version != served or now - last_full >= ROUTER_FULL_SYNC:
                routes_drain(haproxy=haproxy)
                served, last_full = version, now
                router_report(name=name, version=version)
                last_report = now
            elif now - last_report >= ROUTER_REPORT:
                router_report(name=name, version=served)
                last_report = now
        except Exception:
            logger.exception("router %s: routes not applied", name)
        stop.wait(ROUTER_POLL)


def router_ports_check() -> str:
    """Say where this machine's router serves; RouterError names a router port another process holds."""
    haproxy = router()
    haproxy.ports_check()
    state = "runs" if haproxy.running() else "can start"
    return f"router {state} on {haproxy.bind}:{haproxy.port} (HTTPS {haproxy.tls_port})"


def router_stop() -> bool:
    """Stop this machine's HAProxy (its workers finish their requests); False when it was not running."""
    haproxy = router()
    running = haproxy.running()
    haproxy.stop()
    return running
