"""Staff actions on rollouts: drain a host (its apps roll out again elsewhere) and retry a failed rollout."""

from __future__ import annotations

from django.db import transaction

from deployments.models import LIVE_STATES, App, Container, Deployment, DeploymentStatus, DockerHost, HostStatus
from deployments.services.hosts import host_update
from deployments.services.rollouts.enqueue import ACTIVE, rollout_enqueue
from portal.errors import Conflict
from tenants.audit import audit_record


def host_drain(*, actor, host: DockerHost) -> list[App]:
    """Stop placing on `host` and roll out again every app that runs there, so its containers move to ready hosts.

    Returns the apps queued; a draining host is drained again (its remaining apps queued once more). Placement skips
    a host that is not ready (rollouts/placement.py), so each rollout starts the app's containers elsewhere before it
    stops the old ones; an app no other host can hold fails its rollout and keeps running here.
    """
    app_ids = set(
        Container.objects.filter(host=host, state__in=LIVE_STATES, app__current_release__isnull=False).values_list(
            "app_id", flat=True
        )
    )
    apps = list(App.objects.filter(pk__in=app_ids).select_related("tenant").order_by("pk"))
    with transaction.atomic():
        host = host_update(actor=actor, host=host, status=HostStatus.DRAINING, audit=False)
        audit_record(
            actor=actor,
            tenant=None,
            action="host.drain",
            target=host,
            diff={"apps": [f"{app.tenant.slug}/{app.slug}" for app in apps]},
        )
        release_ids = [app.current_release_id for app in apps]
        transaction.on_commit(lambda: [rollout_enqueue(release_id=release_id) for release_id in release_ids])
    return apps


def host_ready(*, actor, host: DockerHost) -> DockerHost:
    """Let `host` take new containers again (a drained host, or one the heartbeat found back)."""
    return host_update(actor=actor, host=host, status=HostStatus.READY)


def rollout_retry(*, actor, deployment: Deployment) -> Deployment:
    """Queue the failed rollout's release again; Conflict unless it failed and nothing newer is queued for the app."""
    if deployment.status != DeploymentStatus.FAILED:
        raise Conflict(
            f"Deployment {deployment.pk} is {deployment.status}: only a failed rollout can be retried.",
            code="deployment_not_failed",
        )
    newer = Deployment.objects.filter(app_id=deployment.app_id, pk__gt=deployment.pk)
    if newer.filter(status__in=ACTIVE).exists():
        raise Conflict("A newer deployment of this app is queued or running: it replaces this one.", code="superseded")
    with transaction.atomic():
        retry = rollout_enqueue(release_id=deployment.release_id)
        audit_record(
            actor=actor,
            tenant=deployment.app.tenant,
            action="deployment.retry",
            target=deployment,
            diff={"release": deployment.release.version, "retry": retry.pk},
        )
    return retry
