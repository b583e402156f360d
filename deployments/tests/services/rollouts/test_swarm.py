"""Which execution a deployment gets: an app on a cluster runs the hosts' loop with the Swarm steps."""

import pytest

from deployments.models import Cluster, Deployment, DeploymentKind, DeploymentStatus
from deployments.services.rollouts.execution import (
    Execution,
    RolloutExecution,
    ScaleExecution,
    SwarmRolloutExecution,
    SwarmScaleExecution,
    execution_for,
)
from deployments.services.rollouts.swarm import service_name
from deployments.tests.factories import AppFactory, ReleaseFactory, TenantFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("on_cluster", "kind", "expected"),
    [
        (False, DeploymentKind.ROLLOUT, RolloutExecution),
        (False, DeploymentKind.SCALE, ScaleExecution),
        (True, DeploymentKind.ROLLOUT, SwarmRolloutExecution),
        (True, DeploymentKind.SCALE, SwarmScaleExecution),
    ],
)
def test_the_app_s_cluster_chooses_the_execution(on_cluster, kind, expected):
    cluster = Cluster.objects.create(name="lab", manager_url="unix:///run/m.sock") if on_cluster else None
    app = AppFactory(cluster=cluster)
    deployment = Deployment.objects.create(app=app, release=ReleaseFactory(app=app), kind=kind)

    execution = execution_for(deployment)

    assert type(execution) is expected


def test_a_swarm_execution_sees_a_newer_deployment_supersede_it_as_the_hosts_one_does():
    app = AppFactory(cluster=Cluster.objects.create(name="lab", manager_url="unix:///run/m.sock"))
    deployment = Deployment.objects.create(app=app, release=ReleaseFactory(app=app), kind=DeploymentKind.ROLLOUT)
    execution = execution_for(deployment)
    before = execution.superseded()

    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.SUPERSEDED)

    assert type(execution).superseded is Execution.superseded
    assert (before, execution.superseded()) == (False, True)


def test_a_service_name_is_a_dns_label_however_long_the_slugs():
    tenant = TenantFactory(slug="t" * 40)
    app = AppFactory(tenant=tenant, slug="a" * 40)
    deployment = Deployment.objects.create(app=app, release=ReleaseFactory(app=app, version=7))
    other = Deployment.objects.create(app=app, release=deployment.release)

    name = service_name(deployment=deployment, process_type="worker")

    assert len(name) == 63 and name.startswith(f"berth-{'t' * 40}-")
    assert name != service_name(deployment=other, process_type="worker")
    short = AppFactory(tenant=TenantFactory(slug="acme"), slug="web")
    shown = Deployment.objects.create(app=short, release=ReleaseFactory(app=short, version=3))
    assert service_name(deployment=shown, process_type="web") == f"berth-acme-web-v3-web-{shown.pk}"
