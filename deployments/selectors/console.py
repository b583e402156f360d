"""Reads of the staff console: the fleet, every tenant, and activity across tenants (staff only: callers check that).

These are the only selectors that do not take a tenant: the console sees all of them by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from deployments.models import (
    LIVE_STATES,
    App,
    Build,
    BuildStatus,
    Container,
    ContainerState,
    Deployment,
    DeploymentStatus,
    DockerHost,
    Formation,
    GcRun,
    HostHeartbeat,
    LogCheckpoint,
    RouterNode,
    RoutingState,
    Usage,
)
from tenants.models import AuditEvent, Membership, Tenant

RECENT = timedelta(hours=24)
PAGE = 100


@dataclass(frozen=True)
class Fleet:
    hosts_by_state: dict[str, int]
    containers_running: int
    containers_desired: int
    memory_committed_mb: int
    memory_capacity_mb: int
    slots_committed: int
    slots_capacity: int
    deployments_in_progress: int
    deployments_failed_24h: int
    builds_queued: int
    builds_running: int
    tenants: int
    tenants_suspended: int
    routers: list
    collectors: list
    routes_version: int


def fleet_overview(*, router_stale: timedelta) -> Fleet:
    """The whole fleet at a glance; a router silent for `router_stale` no longer counts as alive."""
    now = timezone.now()
    by_state = dict(DockerHost.objects.values_list("status").annotate(n=Count("id")).order_by())
    live = Container.objects.filter(state__in=LIVE_STATES)
    capacity = DockerHost.objects.aggregate(memory=Sum("capacity_memory_mb"), slots=Sum("capacity_containers"))
    desired = Formation.objects.filter(app__current_release__isnull=False).aggregate(n=Sum("quantity"))["n"] or 0
    routers = [
        {
            "name": node.name,
            "version": node.drained_version,
            "last_seen": node.last_seen,
            "alive": node.last_seen >= now - router_stale,
        }
        for node in RouterNode.objects.order_by("name")
    ]
    collectors = [
        {"host": row["host"], "last_stored": row["last"], "streams": row["streams"]}
        for row in LogCheckpoint.objects.values("host")
        .annotate(last=Max("updated_at"), streams=Count("id"))
        .order_by("host")
    ]
    return Fleet(
        hosts_by_state=by_state,
        containers_running=live.filter(state=ContainerState.RUNNING).count(),
        containers_desired=desired,
        memory_committed_mb=live.aggregate(n=Sum("memory_mb"))["n"] or 0,
        memory_capacity_mb=capacity["memory"] or 0,
        slots_committed=live.count(),
        slots_capacity=capacity["slots"] or 0,
        deployments_in_progress=Deployment.objects.filter(
            status__in=(DeploymentStatus.PENDING, DeploymentStatus.RUNNING)
        ).count(),
        deployments_failed_24h=Deployment.objects.filter(
            status=DeploymentStatus.FAILED, created_at__gte=now - RECENT
        ).count(),
        builds_queued=Build.objects.filter(status=BuildStatus.PENDING).count(),
        builds_running=Build.objects.filter(status=BuildStatus.RUNNING).count(),
        tenants=Tenant.objects.count(),
        tenants_suspended=Tenant.objects.filter(suspended_at__isnull=False).count(),
        routers=routers,
        collectors=collectors,
        routes_version=RoutingState.objects.filter(pk=1).values_list("version", flat=True).first() or 0,
    )


def console_hosts() -> QuerySet[DockerHost]:
    return DockerHost.objects.annotate(
        live=Count("containers", filter=Q(containers__state__in=LIVE_STATES)),
        committed_mb=Sum("containers__memory_mb", filter=Q(containers__state__in=LIVE_STATES)),
    ).order_by("name")


def console_host_containers(*, host: DockerHost) -> QuerySet[Container]:
    return (
        Container.objects.filter(host=host, state__in=LIVE_STATES)
        .select_related("app__tenant")
        .order_by("app__tenant__slug", "app__slug", "process_type", "index")
    )


def console_host_heartbeats(*, host: DockerHost, count: int = 60) -> dict:
    """The host's last `count` heartbeats, oldest first, and how many of them the engine answered."""
    beats = list(HostHeartbeat.objects.filter(host=host).order_by("-id")[:count])[::-1]
    answered = sum(1 for beat in beats if beat.ok)
    latencies = sorted(beat.latency_ms for beat in beats if beat.ok)
    return {
        "beats": beats,
        "answered": answered,
        "median_ms": latencies[len(latencies) // 2] if latencies else None,
        "max_ms": latencies[-1] if latencies else None,
        "recent": beats[::-1][:10],
    }


def console_host_gc_runs(*, host: DockerHost) -> QuerySet[GcRun]:
    return GcRun.objects.filter(host=host).order_by("-id")


def console_tenants(*, search: str = "") -> QuerySet[Tenant]:
    tenants = Tenant.objects.annotate(
        app_count=Count("apps", distinct=True), member_count=Count("memberships", distinct=True)
    ).order_by("slug")
    if search:
        tenants = tenants.filter(Q(slug__icontains=search) | Q(name__icontains=search))
    return tenants


def console_tenant_members(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")


def console_tenant_apps(*, tenant: Tenant) -> QuerySet[App]:
    return (
        App.objects.filter(tenant=tenant)
        .annotate(live=Count("containers", filter=Q(containers__state__in=LIVE_STATES)))
        .select_related("current_release")
        .order_by("slug")
    )


def console_tenant_usage(*, tenant: Tenant) -> QuerySet[Usage]:
    month = timezone.now().date().replace(day=1)
    return Usage.objects.filter(tenant=tenant, month=month).order_by("app_slug", "process_type")


def console_tenant_committed(*, tenant: Tenant) -> dict:
    live = Container.objects.filter(app__tenant=tenant, state__in=LIVE_STATES)
    return {"containers": live.count(), "memory_mb": live.aggregate(n=Sum("memory_mb"))["n"] or 0}


def console_deployments(*, tenant: str = "", status: str = "") -> QuerySet[Deployment]:
    rows = Deployment.objects.select_related("app__tenant", "release").order_by("-id")
    if tenant:
        rows = rows.filter(app__tenant__slug=tenant)
    if status:
        rows = rows.filter(status=status)
    return rows[:PAGE]


def console_deployment_get(*, pk: int) -> Deployment | None:
    return Deployment.objects.select_related("app__tenant", "release").filter(pk=pk).first()


def console_builds(*, tenant: str = "", status: str = "") -> QuerySet[Build]:
    rows = Build.objects.select_related("app__tenant").defer("log").order_by("-id")
    if tenant:
        rows = rows.filter(app__tenant__slug=tenant)
    if status:
        rows = rows.filter(status=status)
    return rows[:PAGE]


def console_build_get(*, pk: int) -> Build | None:
    return Build.objects.select_related("app__tenant").filter(pk=pk).first()


def console_audit(*, tenant: str = "", actor: str = "", action: str = "") -> QuerySet[AuditEvent]:
    """Audit events of every tenant and of the fleet (tenant ""), newest first."""
    events = AuditEvent.objects.order_by("-created_at", "-id")
    if tenant == "-":
        events = events.filter(tenant_slug="")
    elif tenant:
        events = events.filter(tenant_slug=tenant)
    if actor:
        events = events.filter(actor_name=actor)
    if action:
        events = events.filter(action__startswith=action)
    return events[:PAGE]
