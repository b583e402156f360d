"""The reconciler: compare what Berth believes runs with what the engines report, and repair the difference."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine.client import EngineError
from deployments.models import App, Container, ContainerState, Deployment, DockerHost, HostStatus
from deployments.selectors import deployments_stale
from deployments.services.hosts import host_spec
from deployments.services.rollouts import ACTIVE, STALE_AFTER, deployment_recover, scale_enqueue

logger = logging.getLogger(__name__)


def reconcile() -> set[int]:
    """Finish or undo deployments whose worker died; mark containers that vanished, crashed for good or sit on a
    down host as lost, and queue their replacement.

    Returns the ids of the apps queued for repair. Apps with a deployment in progress are left to it.
    """
    for deployment in list(deployments_stale(older_than=STALE_AFTER)):
        logger.warning("deployment %s lost its worker; converging it", deployment.pk)
        deployment_recover(deployment=deployment)
    lost: set[int] = set()
    for host in DockerHost.objects.all():
        rows = list(Container.objects.filter(host=host, state=ContainerState.RUNNING))
        if not rows:
            continue
        if host.status == HostStatus.DOWN:
            gone = rows
        else:
            try:
                seen = docker_ops.containers_list(host_spec(host), labels={docker_ops.MANAGED_LABEL: "1"})
            except EngineError:
                continue
            state = {item["engine_id"]: item["state"] for item in seen}
            gone = [row for row in rows if state.get(row.engine_id) not in ("running", "restarting")]
        if gone:
            Container.objects.filter(pk__in=[row.pk for row in gone]).update(
                state=ContainerState.LOST, routed=False, updated_at=timezone.now()
            )
            lost |= {row.app_id for row in gone}
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
