"""Rollouts against two real dockerd hosts and a real HAProxy router."""

import pytest

from deployments.engine.labels import RELEASE_LABEL
from deployments.models import Container, ContainerState, DeploymentStatus, ReleaseStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.factories import web_formation
from deployments.tests.integration.conftest import engine_containers
from samples import sample_tag

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def deploy(release):
    deployment = rollout_enqueue(release_id=release.pk)
    return deployment_execute(deployment_id=deployment.pk)


def test_two_web_containers_are_reachable_through_the_router_on_both_hosts(
    hosts, router, app, make_release, traffic, docker_engine_url, second_docker_engine_url, tenant_slug
):
    # given
    release = make_release()

    # when
    deployment = deploy(release)

    # then
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert [step["name"] for step in deployment.steps] == ["plan", "prepare", "start", "route", "drain"]
    assert {step["status"] for step in deployment.steps} == {"succeeded"}
    assert deployment.progress == 100
    release.refresh_from_db()
    app.refresh_from_db()
    assert release.status == ReleaseStatus.SUCCEEDED
    assert app.current_release_id == release.pk
    running = Container.objects.filter(app=app, state=ContainerState.RUNNING)
    assert sorted(running.values_list("host__name", flat=True)) == ["local", "second"]
    assert len(engine_containers(docker_engine_url, tenant_slug)) == 1
    assert len(engine_containers(second_docker_engine_url, tenant_slug)) == 1
    status, body = traffic().get()
    assert (status, body.strip()) == (200, "v1")


def test_ten_consecutive_deploys_under_traffic_drop_no_request(hosts, router, app, make_release, traffic):
    # given
    first = deploy(make_release())
    assert first.status == DeploymentStatus.SUCCEEDED, first.error

    # when
    with traffic() as loop:
        results = [deploy(make_release()) for _ in range(10)]

    # then
    assert [d.status for d in results] == [DeploymentStatus.SUCCEEDED] * 10, [d.error for d in results]
    assert loop.failed == 0, loop.failures[:5]
    assert loop.ok > 0
    assert loop.bodies <= {f"v{n}" for n in range(1, 12)}
    assert "v11" in loop.bodies
    assert Container.objects.filter(app=app, state=ContainerState.RUNNING).count() == 2
    assert set(
        Container.objects.filter(app=app, state=ContainerState.RUNNING).values_list("release__version", flat=True)
    ) == {11}


def test_a_release_failing_its_health_check_is_marked_failed_and_the_old_one_keeps_serving(
    hosts, router, app, make_release, traffic, docker_engine_url, second_docker_engine_url, tenant_slug
):
    # given
    good = make_release()
    assert deploy(good).status == DeploymentStatus.SUCCEEDED
    bad = make_release(image=sample_tag("unhealthy"), formation=web_formation(healthcheck_timeout=3))

    # when
    with traffic() as loop:
        deployment = deploy(bad)

    # then
    assert deployment.status == DeploymentStatus.FAILED
    bad.refresh_from_db()
    app.refresh_from_db()
    assert bad.status == ReleaseStatus.FAILED
    assert "did not pass its health check (GET / on port 5000) within 3 s" in bad.error
    assert deployment.error == bad.error
    assert [step["status"] for step in deployment.steps] == ["succeeded", "succeeded", "failed"]
    assert app.current_release_id == good.pk
    assert loop.failed == 0, loop.failures[:5]
    assert loop.bodies == {"v1"}
    assert traffic().get() == (200, "v1\n")
    # The new containers are gone from the engines; only the two of v1 remain.
    remaining = engine_containers(docker_engine_url, tenant_slug) + engine_containers(
        second_docker_engine_url, tenant_slug
    )
    assert sorted(c.labels[RELEASE_LABEL] for c in remaining) == ["1", "1"]
