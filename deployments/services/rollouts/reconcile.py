"""The reconciler: compare what Berth believes runs with what the engines report, and repair the difference.

A crashed or vanished container is marked lost and replaced; an orphan (a container of this installation that no live
row and no rollout in progress accounts for) is stopped and removed. Containers of another installation sharing the
engine, or from before containers carried `berth.installation`, are never touched.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine.client import EngineError
from deployments.engine.labels import (
    APP_LABEL,
    DEPLOYMENT_LABEL,
    INSTALLATION_LABEL,
    MANAGED_LABEL,
    PROCESS_LABEL,
    RELEASE_LABEL,
    TENANT_LABEL,
)
from deployments.models import LIVE_STATES, Container, ContainerState, Deployment, DockerHost, HostStatus
from deployments.models.hooks import Run, RunStatus
from deployments.selectors import deployments_running, deployments_stale
from deployments.services import routes
from deployments.services.hosts import host_spec
from deployments.services.installation import installation_id
from deployments.services.rollouts.containers import STOP_GRACE
from deployments.services.rollouts.enqueue import ACTIVE
from deployments.services.rollouts.locks import app_turn, worker_alive
from deployments.services.rollouts.recovery import STALE_AFTER, deployment_recover
from deployments.services.rollouts.repairs import Loss, apps_repair
from deployments.services.rollouts.swarm_tasks import clusters_reconcile
from tenants.audit import audit_record
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Stopped containers are the garbage collector's: it keeps them for its own grace period so a crash can be read.
STOPPED = ("exited", "dead")


def reconcile() -> set[int]:
    """Finish or undo deployments whose worker died; mark containers that vanished, crashed for good or sit on a
    down host as lost; bring every app short of its formation back to it (rollouts/repairs.py, with a crash loop's
    back-off); remove this installation's orphans from ready hosts; record the tasks of apps on a cluster.

    Returns the ids of the apps queued for repair. Apps with a deployment in progress are left to it.
    """
    deployments_converge()
    installation = installation_id()
    losses: list[Loss] = []
    moved: set[int] = set()
    # A cluster's nodes are left to the cluster: Swarm replaces its own tasks (rollouts/swarm.py reads them back).
    for host in DockerHost.objects.standalone():
        rows = list(Container.objects.filter(host=host, state=ContainerState.RUNNING))
        seen: list[dict] = []
        if host.status == HostStatus.DOWN:
            gone = rows
            losses += [
                Loss(app_id=row.app_id, label=_label(row, host), how="is on a host that is down") for row in rows
            ]
        elif not rows and host.status != HostStatus.READY:
            continue
        else:
            try:
                seen = docker_ops.containers_list(host_spec(host), labels={MANAGED_LABEL: "1"})
            except EngineError as exc:
                logger.warning("reconciler skipped host %s: %s", host.name, exc)
                continue
            state = {item["engine_id"]: item["state"] for item in seen}
            gone = [row for row in rows if state.get(row.engine_id) not in ("running", "restarting")]
            moved |= addresses_refresh(rows=rows, seen=seen)
            losses += [_loss(host=host, row=row, listed=row.engine_id in state) for row in gone]
        if gone:
            Container.objects.filter(pk__in=[row.pk for row in gone]).update(
                state=ContainerState.LOST, routed=False, updated_at=timezone.now()
            )
        if host.status == HostStatus.READY:
            orphans_remove(host=host, seen=seen, installation=installation)
    if moved:
        # The routers pick the new addresses up on their next poll (no rollout waits for them here).
        routes.routing_bump(app_ids=moved)
    queued = apps_repair(losses=losses)
    clusters_reconcile()
    if queued:
        logger.info("reconciler queued repairs for apps %s", sorted(queued))
    return queued


def addresses_refresh(*, rows: list[Container], seen: list[dict]) -> set[int]:
    """Record where running containers answer now: the engine publishes a restarted container's port anew (another
    host port) and may give it another network address. Returns the apps whose routed containers moved."""
    running = {item["engine_id"]: item for item in seen if item["state"] == "running"}
    apps = set()
    for row in rows:
        item = running.get(row.engine_id)
        if item is None or row.host_port is None:
            continue
        port, ip = (row.host_port, item["ip"]) if row.ip else (item["host_port"], None)
        if port is None or (row.ip and not ip) or (port, ip) == (row.host_port, row.ip):
            continue
        Container.objects.filter(pk=row.pk).update(host_port=port, ip=ip, updated_at=timezone.now())
        if row.routed:
            apps.add(row.app_id)
    return apps


def _label(row: Container, host: DockerHost) -> str:
    return f"{row.process_type}.{row.index} on {host.name}"


def _loss(*, host: DockerHost, row: Container, listed: bool) -> Loss:
    """Say how a container ended, from the engine while it still has it (exit code, restarts, last lines)."""
    loss = Loss(app_id=row.app_id, label=_label(row, host), how="vanished from its engine")
    if not listed:
        return loss
    try:
        state = docker_ops.container_state(host_spec(host), engine_id=row.engine_id)
    except EngineError:
        return loss
    loss.exit_code, loss.restart_count = state["exit_code"], state["restart_count"]
    loss.output = docker_ops.container_logs_tail(host_spec(host), engine_id=row.engine_id)
    why = "was killed for using more memory than its limit" if state["oom_killed"] else "exited"
    loss.how = f"{why} with code {state['exit_code']} after {state['restart_count']} restart(s)"
    return loss


def deployments_converge() -> None:
    """Converge every deployment whose worker is gone, holding the app's turn so no worker runs it meanwhile.

    On PostgreSQL a running deployment whose app lock no session holds lost its worker (a killed worker's session
    ends, and the server drops its lock): it is converged at once. Elsewhere, one silent for STALE_AFTER seconds is.
    """
    candidates = {d.pk: d for d in deployments_stale(older_than=STALE_AFTER)}
    for deployment in deployments_running():
        if worker_alive(deployment.app_id) is False:
            candidates.setdefault(deployment.pk, deployment)
    for deployment in candidates.values():
        with app_turn(deployment.app_id, timeout=0) as held:
            if not held:
                continue
            deployment.refresh_from_db()
            if deployment.finished_at is not None:
                continue
            logger.warning("deployment %s lost its worker; converging it", deployment.pk)
            deployment_recover(deployment=deployment)


def orphans_find(*, seen: list[dict], installation: str, now: float) -> list[dict]:
    """Return the containers in `seen` (an engine's listing) that this installation started and nothing accounts for.

    Read the database after listing the engine: a container that got its row since is then known. A container of a
    deployment in progress, or younger than BERTH_ORPHAN_GRACE_SECONDS, may still be about to get its row; a run's
    container is known by its unfinished Run row until the run's time limit and that grace have passed.
    """
    grace = settings.BERTH_ORPHAN_GRACE_SECONDS
    ours = [
        item
        for item in seen
        if item["labels"].get(INSTALLATION_LABEL) == installation
        and item["state"] not in STOPPED
        and now - item["created"] >= grace
    ]
    if not ours:
        return []
    ids = [item["engine_id"] for item in ours]
    known = set(Container.objects.filter(engine_id__in=ids, state__in=LIVE_STATES).values_list("engine_id", flat=True))
    # A one-off run's container has a Run row instead, and lives at most BERTH_RUN_TIMEOUT once it started.
    since = timezone.now() - timedelta(seconds=settings.BERTH_RUN_TIMEOUT + grace)
    unfinished = Run.objects.filter(engine_id__in=ids, status__in=[RunStatus.PENDING, RunStatus.RUNNING])
    known |= set(unfinished.filter(created_at__gte=since).values_list("engine_id", flat=True))
    labelled = {item["labels"].get(DEPLOYMENT_LABEL, "") for item in ours}
    active = {
        str(pk)
        for pk in Deployment.objects.filter(
            pk__in=[int(value) for value in labelled if value.isdigit()], status__in=ACTIVE
        ).values_list("pk", flat=True)
    }
    return [
        item
        for item in ours
        if item["engine_id"] not in known and item["labels"].get(DEPLOYMENT_LABEL, "") not in active
    ]


def orphans_remove(*, host: DockerHost, seen: list[dict], installation: str) -> list[dict]:
    """Stop (with grace) and remove this installation's orphans on `host`; record each. Return those removed."""
    removed = []
    for item in orphans_find(seen=seen, installation=installation, now=timezone.now().timestamp()):
        try:
            docker_ops.container_stop(host_spec(host), engine_id=item["engine_id"], grace=STOP_GRACE)
        except EngineError as exc:
            logger.warning("orphan %s on %s could not be removed: %s", item["name"], host.name, exc)
            continue
        removed.append(item)
        _orphan_record(host=host, item=item)
    return removed


def _orphan_record(*, host: DockerHost, item: dict) -> None:
    labels = item["labels"]
    logger.info(
        "reconciler removed orphan %s (%s) on %s: tenant %s, app %s, release %s",
        item["name"],
        item["engine_id"][:12],
        host.name,
        labels.get(TENANT_LABEL, "?"),
        labels.get(APP_LABEL, "?"),
        labels.get(RELEASE_LABEL, "?"),
    )
    tenant = Tenant.objects.filter(slug=labels.get(TENANT_LABEL, "")).first()
    if tenant is None:
        return
    audit_record(
        actor=None,
        tenant=tenant,
        action="container.orphan_remove",
        target=host,
        diff={
            "container": item["name"],
            "engine_id": item["engine_id"][:12],
            "app": labels.get(APP_LABEL, ""),
            "release": labels.get(RELEASE_LABEL, ""),
            "process": labels.get(PROCESS_LABEL, ""),
            "state": item["state"],
        },
    )
