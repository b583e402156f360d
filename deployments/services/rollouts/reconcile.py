"""The reconciler: compare what Berth believes runs with what the engines report, and repair the difference.

A crashed or vanished container is marked lost and replaced; an orphan (a container of this installation that no live
row and no rollout in progress accounts for) is stopped and removed. Containers of another installation sharing the
engine, or from before containers carried `berth.installation`, are never touched.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
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
from deployments.models import LIVE_STATES, App, Container, ContainerState, Deployment, DockerHost, HostStatus
from deployments.models.hooks import Run, RunStatus
from deployments.selectors import deployments_stale
from deployments.services.hosts import host_spec
from deployments.services.installation import installation_id
from deployments.services.rollouts.containers import STOP_GRACE
from deployments.services.rollouts.enqueue import ACTIVE, scale_enqueue
from deployments.services.rollouts.recovery import STALE_AFTER, deployment_recover
from tenants.audit import audit_record
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Stopped containers are the garbage collector's: it keeps them for its own grace period so a crash can be read.
STOPPED = ("exited", "dead")


def reconcile() -> set[int]:
    """Finish or undo deployments whose worker died; mark containers that vanished, crashed for good or sit on a
    down host as lost, and queue their replacement; remove this installation's orphans from ready hosts.

    Returns the ids of the apps queued for repair. Apps with a deployment in progress are left to it.
    """
    for deployment in list(deployments_stale(older_than=STALE_AFTER)):
        logger.warning("deployment %s lost its worker; converging it", deployment.pk)
        deployment_recover(deployment=deployment)
    installation = installation_id()
    lost: set[int] = set()
    for host in DockerHost.objects.all():
        rows = list(Container.objects.filter(host=host, state=ContainerState.RUNNING))
        seen: list[dict] = []
        if host.status == HostStatus.DOWN:
            gone = rows
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
        if gone:
            Container.objects.filter(pk__in=[row.pk for row in gone]).update(
                state=ContainerState.LOST, routed=False, updated_at=timezone.now()
            )
            lost |= {row.app_id for row in gone}
        if host.status == HostStatus.READY:
            orphans_remove(host=host, seen=seen, installation=installation)
    queued = set()
    for app in App.objects.filter(pk__in=lost):
        if Deployment.objects.filter(app=app, status__in=ACTIVE).exists():
            continue
        with transaction.atomic():
            if scale_enqueue(app_id=app.pk) is not None:
                queued.add(app.pk)
    if queued:
        logger.info("reconciler queued repairs for apps %s", sorted(queued))
    return queued


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
