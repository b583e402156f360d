"""Staff actions against real engines and a real HAProxy: a suspended tenant's app answers the notice and keeps its
containers, resuming serves it again; draining a host moves the app's containers to the other host."""

import pytest

from deployments.models import Container, ContainerState, Deployment, DeploymentStatus, HostStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.services.rollouts.operator import host_drain
from deployments.services.routes import SUSPENDED_PAGE
from deployments.services.suspension import tenant_resume, tenant_suspend
from deployments.tasks import router_sync_run
from deployments.tests.factories import UserFactory
from deployments.tests.integration.conftest import engine_containers
from deployments.tests.integration.test_router import _request

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def _deploy(release):
    return deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)


def _running(app) -> set[str]:
    return set(Container.objects.filter(app=app, state=ContainerState.RUNNING).values_list("engine_id", flat=True))


def test_a_suspended_tenant_answers_the_notice_keeps_its_containers_and_serves_again_once_resumed(
    hosts, router, app, make_release, docker_engine_url, second_docker_engine_url, tenant_slug
):
    # given
    assert _deploy(make_release()).status == DeploymentStatus.SUCCEEDED
    host = f"web.{tenant_slug}.localhost"
    router_sync_run.call()
    assert _request(router, host) == (200, "v1\n")
    running = _running(app)
    staff = UserFactory(is_staff=True)

    # when
    tenant_suspend(actor=staff, tenant=app.tenant, reason="unpaid")
    router_sync_run.call()

    # then: the notice, and every container still there and running
    assert _request(router, host) == (503, SUSPENDED_PAGE)
    assert _running(app) == running
    on_engines = [
        c for url in (docker_engine_url, second_docker_engine_url) for c in engine_containers(url, tenant_slug)
    ]
    assert {c.id for c in on_engines} == running and {c.status for c in on_engines} == {"running"}

    # when
    tenant_resume(actor=staff, tenant=app.tenant)
    router_sync_run.call()

    # then
    assert _request(router, host) == (200, "v1\n")
    assert _running(app) == running


def test_draining_a_host_moves_the_apps_containers_to_the_other_host(hosts, router, app, make_release, tenant_slug):
    # given: the app's web containers on both hosts
    assert _deploy(make_release()).status == DeploymentStatus.SUCCEEDED
    second = hosts[1]
    before = {c.host.name for c in Container.objects.filter(app=app, state=ContainerState.RUNNING)}
    assert "second" in before, before

    # when
    apps = host_drain(actor=UserFactory(is_staff=True), host=second)
    queued = Deployment.objects.filter(app=app, status=DeploymentStatus.PENDING).get()
    done = deployment_execute(deployment_id=queued.pk)

    # then
    assert [a.pk for a in apps] == [app.pk]
    assert done.status == DeploymentStatus.SUCCEEDED, done.error
    second.refresh_from_db()
    assert second.status == HostStatus.DRAINING
    live = Container.objects.filter(app=app, state=ContainerState.RUNNING)
    assert (live.count(), {c.host.name for c in live}) == (2, {"local"})
    assert [c for c in engine_containers(second.engine_url, tenant_slug) if c.status == "running"] == []
    router_sync_run.call()
    assert _request(router, f"web.{tenant_slug}.localhost") == (200, "v1\n")
