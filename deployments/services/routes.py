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
import weakref
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from deployments.models import (
    App,
    Container,
    ContainerState,
    Domain,
    RouterNode,
    RouterSettings,
    RoutingChange,
    RoutingState,
)
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
CHANGES_KEPT = 1000  # routes versions whose changed apps are kept; a router further behind applies every route


def app_hostname(*, app: App) -> str:
    return _hostname(app.slug, app.tenant.slug)


def _hostname(app_slug: str, tenant_slug: str) -> str:
    return f"{app_slug}.{tenant_slug}.{settings.BERTH_APPS_DOMAIN}"


def route_key(*, tenant_slug: str, app_slug: str) -> str:
    """The router's name of an app's route (its backend's key)."""
    return f"{tenant_slug}__{app_slug}"


def routes_collect(app_ids: Iterable[int] | None = None) -> list[Route]:
    """Return one route per app with a web process: its names and the containers the router sends traffic to.

    With `app_ids`, the routes of those apps only (see `routes_of`).
    """
    return routes_of(app_ids)[0]


def routes_of(app_ids: Iterable[int] | None = None) -> tuple[list[Route], set[str]]:
    """The routes (of every app, or of the apps `app_ids`), and the keys of every app looked at, routed or not."""
    only = None if app_ids is None else set(app_ids)
    upstreams: dict[int, list[str]] = {}
    routed = Container.objects.filter(
        process_type=WEB_PROCESS, routed=True, state=ContainerState.RUNNING, host_port__isnull=False
    )
    domain_rows = Domain.objects.all()
    settings_rows = RouterSettings.objects.all()
    apps = App.objects.all()
    if only is not None:
        routed, domain_rows = routed.filter(app_id__in=only), domain_rows.filter(app_id__in=only)
        settings_rows, apps = settings_rows.filter(app_id__in=only), apps.filter(pk__in=only)
    for app_id, address, port, ip in routed.order_by("app_id", "index", "id").values_list(
        "app_id", "host__address", "host_port", "ip"
    ):
        upstreams.setdefault(app_id, []).append(f"{ip or address}:{port}")
    domains: dict[int, list[str]] = {}
    for app_id, hostname in domain_rows.values_list("app_id", "hostname"):
        domains.setdefault(app_id, []).append(hostname.lower())
    settings_of = {row.app_id: route_settings(row) for row in settings_rows}
    routes, keys = [], set()
    rows = apps.values_list("pk", "slug", "tenant__slug", "current_release_id", "tenant__suspended_at")
    for pk, slug, tenant_slug, released, suspended_at in rows:
        key = route_key(tenant_slug=tenant_slug, app_slug=slug)
        keys.add(key)
        if pk in upstreams or pk in domains or released is not None:
            routes.append(
                Route(
                    key=key,
                    hostnames=(_hostname(slug, tenant_slug), *sorted(domains.get(pk, []))),
                    upstreams=tuple(upstreams.get(pk, [])),
                    settings=_suspended(
                        settings_of.get(pk, DEFAULT_ROUTE_SETTINGS), suspended=suspended_at is not None
                    ),
                )
            )
    return routes, keys


# A suspended tenant's apps answer this (503) through the maintenance mode; kept here, not in suspension.py, so the
# routes module imports no service that imports it back.
SUSPENDED_PAGE = (
    "<!doctype html><title>Suspended</title>"
    "<p>This app is suspended by the platform's operators. Its owners have been told why.\n"
)


def _suspended(route_settings: RouteSettings, *, suspended: bool) -> RouteSettings:
    """The app's settings, with the suspension notice in place of its pages while its tenant is suspended."""
    if not suspended:
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


# --- the routes version and the routers -------------------------------------------------------------------------------


def routing_bump(*, app_ids: Iterable[int] | None = None) -> int:
    """Count a change of what the routers must serve; call it inside the transaction making the change.

    `app_ids` names the apps whose routes the change touched (a router then applies only those); without it, the
    routers apply every route. Returns the new version (the row stays locked until that transaction ends, so versions
    follow commit order).
    """
    if not RoutingState.objects.filter(pk=1).update(version=F("version") + 1):
        try:
            with transaction.atomic():
                RoutingState.objects.create(pk=1, version=1)
        except IntegrityError:  # another transaction created it first
            RoutingState.objects.filter(pk=1).update(version=F("version") + 1)
    version = RoutingState.objects.values_list("version", flat=True).get(pk=1)
    ids = sorted(set(app_ids)) if app_ids is not None else [None]
    RoutingChange.objects.bulk_create([RoutingChange(version=version, app_id=app_id) for app_id in ids or [None]])
    return version


def _changed_between(served: int, version: int) -> set[int] | None:
    """The apps the versions after `served` up to `version` changed; None when one of them is unknown or "all"."""
    if version - served > CHANGES_KEPT:
        return None
    rows = list(RoutingChange.objects.filter(version__gt=served, version__lte=version).values_list("version", "app_id"))
    if {row[0] for row in rows} != set(range(served + 1, version + 1)) or any(row[1] is None for row in rows):
        return None
    return {row[1] for row in rows}


def routing_version() -> int:
    return RoutingState.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def router_name() -> str:
    """This machine's router, as it reports itself."""
    return settings.BERTH_ROUTER_NAME or f"{socket.gethostname()}:{settings.BERTH_ROUTER_PORT}"


def router_report(*, name: str, version: int) -> None:
    """Record that router `name` is alive and serves routes `version` with no older worker left (never goes back)."""
    now = timezone.now()
    seen = {"last_seen": now, "drained_version": Greatest("drained_version", Value(version))}
    if RouterNode.objects.filter(name=name).update(**seen):
        return
    node, created = RouterNode.objects.get_or_create(name=name, defaults={"drained_version": version, "last_seen": now})
    if not created:  # another process made it meanwhile
        RouterNode.objects.filter(pk=node.pk).update(**seen)


def routes_drain(*, haproxy: HAProxy | None = None, version: int | None = None, full: bool = False) -> None:
    """Apply the current routes to this machine's HAProxy; return once no request can reach a server they dropped.

    With `version` (read before this call), only the apps the versions since the one this process last applied to
    this router changed (every route when that is unknown, or with `full`); nothing when it applied `version` already.
    """
    haproxy = haproxy or router()
    served = _served.get(haproxy)
    applied = changed = None
    if full or version is None or served is None:
        applied = haproxy.apply(routes_collect(), drain_timeout=DRAIN_WAIT)
    else:
        changed = _changed_between(served, version) if served < version else set()
        if changed:
            routes, keys = routes_of(changed)
            applied = haproxy.apply(routes, only=keys, drain_timeout=DRAIN_WAIT)
            if applied.needs_all:  # the driver does not know what HAProxy serves
                changed = None
        if changed is None:
            applied = haproxy.apply(routes_collect(), drain_timeout=DRAIN_WAIT)
    if applied is not None and applied.undrained:
        logger.warning("router: still busy after %.0f s, cut off: %s", DRAIN_WAIT, ", ".join(applied.undrained))
    if version is not None:
        _served[haproxy] = max(version, _served.get(haproxy, 0))
    # Certificates and ACME answers at runtime too; only what changed since the last sync is sent. A change of them
    # bumps a version naming no app, so a drain of some apps only has none to send.
    if changed is None:
        tls_sync(router=haproxy)


# The routes version each router of this process last applied (a router made anew has none: it applies every route).
_served: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
        routes_drain(version=version)
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
            full = now - last_full >= ROUTER_FULL_SYNC
            if version != served or full:
                routes_drain(haproxy=haproxy, version=version, full=full)
                if full:
                    RoutingChange.objects.filter(version__lte=version - CHANGES_KEPT).delete()
                    last_full = now
                served = version
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
