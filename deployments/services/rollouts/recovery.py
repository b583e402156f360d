"""Converging a deployment whose worker died mid-way: never half old, half new, never a duplicate."""

from __future__ import annotations

import contextlib

from django.db import transaction
from django.utils import timezone

from deployments.models import LIVE_STATES, App, Container, Deployment, DeploymentKind, DeploymentStatus, ReleaseStatus
from deployments.router import RouterError
from deployments.services import routes
from deployments.services.rollouts.execution import execution_for
from deployments.services.rollouts.steps import RELEASE_COMMAND_TIMEOUT

# Longer than any step may take (release command, health checks): a rollout silent for this long lost its worker.
STALE_AFTER = RELEASE_COMMAND_TIMEOUT + 600


def deployment_recover(*, deployment: Deployment) -> Deployment:
    """Converge a deployment whose worker died mid-way (the reconciler calls this for stale ones).

    Before the router switch, nothing it started serves: remove it and fail the release. After the switch, the new
    containers serve: finish the rollout (current release, stop the old ones). Never half old, half new.
    """
    execution = execution_for(deployment)
    serving = Container.objects.filter(deployment=deployment, routed=True, state__in=LIVE_STATES).exists()
    if deployment.kind == DeploymentKind.ROLLOUT and serving:
        old = list(
            Container.objects.filter(app=deployment.app, state__in=LIVE_STATES, routed=False)
            .exclude(deployment=deployment)
            .select_related("host")
        )
        execution.retire(old)
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
