"""Queueing deployments: a release's rollout (superseding the app's unfinished ones), a scale, an app's teardown.

The task worker executes what is queued here (rollouts/execution.py).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from deployments.models import App, Deployment, DeploymentKind, DeploymentStatus, Release, ReleaseStatus
from deployments.services.queue import task_enqueue

logger = logging.getLogger(__name__)

ACTIVE = (DeploymentStatus.PENDING, DeploymentStatus.RUNNING)


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
