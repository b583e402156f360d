"""Rollouts of releases onto the hosts, and scaling: persisted plans the task worker executes step by step.

A rollout: plan (validate, place) -> image on each host -> tenant network -> release phase -> start the new
containers and wait for their health checks -> switch the router -> stop the old containers. Until the switch nothing
the users reach has changed, so any failure before it removes the new containers and leaves the old release serving.
"""

from __future__ import annotations

import contextlib
import logging
import time

from django.db import transaction
from django.utils import timezone

from deployments.models import (
    LIVE_STATES,
    App,
    Container,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    Release,
    ReleaseStatus,
)
from deployments.router import RouterError
from deployments.services import routes
from deployments.services.containers import stop_containers
from deployments.services.executions import RELEASE_COMMAND_TIMEOUT, RolloutExecution, ScaleExecution
from deployments.services.queue import task_enqueue

logger = logging.getLogger(__name__)

ACTIVE = (DeploymentStatus.PENDING, DeploymentStatus.RUNNING)
TURN_TIMEOUT = 300
# Longer than any step may take (release command, health checks): a rollout silent for this long lost its worker.
STALE_AFTER = RELEASE_COMMAND_TIMEOUT + 600


# --- enqueue ---------------------------------------------------------------------------------------------------------


def _enqueue_task(deployment_id: int) -> None:
    task_enqueue("deployment_run", deployment_id=deployment_id)


def rollout_enqueue(*, release_id: int) -> Deployment | None:
    """Queue the rollout of a release; it supersedes the app's rollouts not yet finished."""
    release = Release.objects.select_related("app").filter(pk=release_id).first()
    if release is None:
        return None
    with transaction.atomic():
        App.objects.select_for_update().filter(pk=release.app_id).first()
        deployment = Deployment.objects.create(app=release.app, release=release, kind=DeploymentKind.ROLLOUT)
        others = Deployment.objects.filter(app=release.app, status__in=ACTIVE).exclude(pk=deployment.pk)
        message = f"Superseded by the rollout of v{release.version}."
        # A release whose rollout never started will not run: say so instead of leaving it pending.
        queued = others.filter(status=DeploymentStatus.PENDING, kind=DeploymentKind.ROLLOUT).values("release_id")
        Release.objects.filter(pk__in=queued, status=ReleaseStatus.PENDING).exclude(pk=release.pk).update(
            status=ReleaseStatus.FAILED, error=f"{message[:-1]} before it started.", finished_at=timezone.now()
        )
        others.filter(status=DeploymentStatus.PENDING).update(
            status=DeploymentStatus.SUPERSEDED, error=message, finished_at=timezone.now()
        )
        others.update(status=DeploymentStatus.SUPERSEDED, error=message)
        transaction.on_commit(lambda: _enqueue_task(deployment.pk))
    return deployment


def scale_enqueue(*, app_id: int) -> Deployment | None:
    """Queue bringing an app's containers to its formation's quantities (nothing to do before a first release)."""
    app = App.objects.filter(pk=app_id).select_related("current_release").first()
    if app is None or app.current_release is None:
        return None
    with transaction.atomic():
        deployment = Deployment.objects.create(app=app, release=app.current_release, kind=DeploymentKind.SCALE)
        transaction.on_commit(lambda: _enqueue_task(deployment.pk))
    return deployment


def app_teardown_enqueue(*, tenant: str, app: str, containers: list[dict]) -> None:
    """Queue stopping the containers of a deleted app ([{"host": name, "engine_id": id}]) and dropping its route."""
    task_enqueue("app_teardown_run", tenant=tenant, app=app, containers=containers)


# --- execution -------------------------------------------------------------------------------------------------------


def deployment_execute(*, deployment_id: int) -> Deployment | None:
    """Run a queued deployment to its end (the task calls this). Idempotent: a finished one is left alone."""
    deployment = (
        Deployment.objects.select_related("app__tenant", "release__build", "release__app__tenant")
        .filter(pk=deployment_id)
        .first()
    )
    if deployment is None or deployment.status != DeploymentStatus.PENDING:
        return deployment
    _wait_turn(deployment)
    if deployment.kind == DeploymentKind.SCALE:
        current = App.objects.filter(pk=deployment.app_id).values_list("current_release_id", flat=True).first()
        if current != deployment.release_id:
            # A rollout replaced the release meanwhile; it started the formation's quantities itself.
            Deployment.objects.filter(pk=deployment.pk, status=DeploymentStatus.PENDING).update(
                status=DeploymentStatus.SUPERSEDED,
                error="A rollout of a newer release replaced this scale.",
                finished_at=timezone.now(),
            )
        else:
            ScaleExecution(deployment).run()
    else:
        RolloutExecution(deployment).run()
    deployment.refresh_from_db()
    return deployment


def _wait_turn(deployment: Deployment) -> None:
    """Wait while another deployment of the app is executing (a superseded one stops at its next step)."""
    deadline = time.monotonic() + TURN_TIMEOUT
    others = Deployment.objects.filter(
        app_id=deployment.app_id, started_at__isnull=False, finished_at__isnull=True
    ).exclude(pk=deployment.pk)
    while others.exists() and time.monotonic() < deadline:
        time.sleep(0.25)


def deployment_recover(*, deployment: Deployment) -> Deployment:
    """Converge a deployment whose worker died mid-way (the reconciler calls this for stale ones).

    Before the router switch, nothing it started serves: remove it and fail the release. After the switch, the new
    containers serve: finish the rollout (current release, stop the old ones). Never half old, half new.
    """
    execution = (
        RolloutExecution(deployment) if deployment.kind == DeploymentKind.ROLLOUT else ScaleExecution(deployment)
    )
    serving = Container.objects.filter(deployment=deployment, routed=True, state__in=LIVE_STATES).exists()
    if deployment.kind == DeploymentKind.ROLLOUT and serving:
        old = list(
            Container.objects.filter(app=deployment.app, state__in=LIVE_STATES, routed=False)
            .exclude(deployment=deployment)
            .select_related("host")
        )
        stop_containers(old)
        with transaction.atomic():
            App.objects.filter(pk=deployment.app_id).update(
                current_release=deployment.release, updated_at=timezone.now()
            )
            execution.release_done(ReleaseStatus.SUCCEEDED, "")
        with contextlib.suppress(RouterError):  # the router loop applies the routed flags later otherwise
            with transaction.atomic():
                version = routes.routing_bump()
            routes.routes_switch(version)
        execution.finish(DeploymentStatus.SUCCEEDED)
    elif serving:
        execution.finish(DeploymentStatus.SUCCEEDED)
    else:
        execution.remove_new()
        message = "The worker stopped during the rollout; nothing it started was serving and it was removed."
        if deployment.kind == DeploymentKind.ROLLOUT:
            execution.release_done(ReleaseStatus.FAILED, message)
        execution.finish(DeploymentStatus.FAILED, message)
    deployment.refresh_from_db()
    return deployment
