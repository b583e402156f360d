"""Reads of deployments (rollouts and scalings) and of Berth's container rows."""

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from deployments.models import LIVE_STATES, App, Container, Deployment, DeploymentStatus
from portal.errors import NotFound
from tenants.models import Tenant


def deployment_list(*, app: App) -> QuerySet[Deployment]:
    """The app's deployments, newest first, with their release."""
    return Deployment.objects.filter(app=app).select_related("release").order_by("-id")


def deployment_get(*, app: App, deployment_id: int) -> Deployment:
    deployment = Deployment.objects.select_related("release").filter(app=app, pk=deployment_id).first()
    if deployment is None:
        raise NotFound()
    return deployment


def deployment_for_viewer(*, tenant: Tenant, app_slug: str, deployment_id: int) -> Deployment | None:
    """The deployment of the tenant's app `app_slug`, or None (what the progress WebSocket shows)."""
    return (
        Deployment.objects.select_related("release")
        .filter(app__tenant=tenant, app__slug=app_slug, pk=deployment_id)
        .first()
    )


def deployment_of_build(*, build) -> Deployment | None:
    """The rollout of the first release made from `build` (what the build page follows), or None yet."""
    return (
        Deployment.objects.select_related("release")
        .filter(app=build.app, release__build=build)
        .order_by("release__version", "id")
        .first()
    )


def deployments_stale(*, older_than: float) -> Iterator[Deployment]:
    """Deployments started by a worker that has shown no step for `older_than` seconds."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    for deployment in Deployment.objects.filter(
        started_at__isnull=False, finished_at__isnull=True, started_at__lt=cutoff
    ).select_related("app__tenant", "release__build", "release__app__tenant"):
        last = max([deployment.started_at.isoformat()] + [step["started_at"] for step in deployment.steps])
        if last < cutoff.isoformat():
            yield deployment


def container_find(*, app: App, ref: str) -> Container:
    """The app's live container named `ref`: a process name (web.1, of the newest release) or an engine id prefix."""
    kind, _, index = ref.rpartition(".")
    if not kind or not index.isdigit():
        return container_get(app=app, container_id=ref)
    row = (
        Container.objects.filter(app=app, process_type=kind, index=int(index), state__in=LIVE_STATES)
        .select_related("host", "release")
        .order_by("-release__version", "-id")
        .first()
    )
    if row is None:
        raise NotFound()
    return row


def deployments_running() -> Iterator[Deployment]:
    """Deployments a worker began and did not finish."""
    yield from Deployment.objects.filter(
        status=DeploymentStatus.RUNNING, started_at__isnull=False, finished_at__isnull=True
    ).select_related("app__tenant", "release__build", "release__app__tenant")


def container_get(*, app: App, container_id: str) -> Container:
    """The app's live container whose engine id starts with `container_id` (6 hex digits at least)."""
    if len(container_id) < 6 or not all(ch in "0123456789abcdef" for ch in container_id):
        raise NotFound()
    row = (
        Container.objects.filter(app=app, engine_id__startswith=container_id, state__in=LIVE_STATES)
        .select_related("host", "release")
        .first()
    )
    if row is None:
        raise NotFound()
    return row


def container_rows_live(*, app: App) -> QuerySet[Container]:
    """The app's recorded containers that hold resources now, with the few columns a list shows.

    Exited and lost rows stay in the table until GC and can outnumber the live ones by thousands; the engines report
    those themselves. The release's JSON snapshot is left out: a list shows its version only.
    """
    return (
        Container.objects.filter(app=app, state__in=LIVE_STATES)
        .select_related("host", "release")
        .only(
            "engine_id",
            "name",
            "host_port",
            "ip",
            "process_type",
            "index",
            "state",
            "routed",
            "host",
            "host__name",
            "release",
            "release__version",
        )
    )


def app_repair_status(*, app: App) -> dict | None:
    """What the reconciler last saw of the app (desired against running, its last repair, a crash loop's back-off);
    None before its first pass over the app."""
    # The reverse one-to-one: read with the app by app_list's select_related, one query otherwise.
    repair = getattr(app, "repair", None)
    if repair is None:
        return None
    return {
        "state": repair.state,
        "desired": repair.desired,
        "running": repair.running,
        "repairs": repair.repairs,
        "replaced": repair.replaced,
        "streak": repair.streak,
        "last_repair": repair.last_repair,
        "last_repair_at": repair.last_repair_at,
        "next_repair_at": repair.next_repair_at,
        "last_exit_code": repair.last_exit_code,
        "last_restart_count": repair.last_restart_count,
        "last_output": repair.last_output,
        "checked_at": repair.checked_at,
    }
