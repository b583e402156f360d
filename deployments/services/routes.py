"""The router's view of the apps: hostnames and the routed web containers, and applying it to nginx."""

from __future__ import annotations

from django.conf import settings

from deployments.models import App, Container, ContainerState, Domain
from deployments.router import Applied, Route, router

WEB = "web"


def app_hostname(*, app: App) -> str:
    return f"{app.slug}.{app.tenant.slug}.{settings.BERTH_APPS_DOMAIN}"


def routes_collect() -> list[Route]:
    """Return one route per app with a web process: its names and the containers the router sends traffic to."""
    upstreams: dict[int, list[str]] = {}
    routed = (
        Container.objects.filter(process_type=WEB, routed=True, state=ContainerState.RUNNING, host_port__isnull=False)
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


def router_sync() -> Applied:
    """Apply the current routes to nginx (start it when needed); return the generation served and what it replaced."""
    return router().apply(routes_collect())
