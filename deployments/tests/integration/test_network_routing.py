"""Routing by container network on a real dockerd and HAProxy: nothing published, no request lost; and on both kinds
of host, a restarted container (by Berth, or by the engine's restart policy) is routed where it answers now."""

import docker
import pytest

from deployments.models import Container, ContainerState, DeploymentStatus, DockerHost, HostRouting
from deployments.services import routes
from deployments.services.containers import container_restart
from deployments.services.rollouts import deployment_execute, reconcile, rollout_enqueue
from deployments.tests.factories import web_formation

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def deploy(release):
    return deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)


@pytest.fixture
def one_host(db, docker_engine_url, sample_image):
    sample_image("httpd")

    def make(routing: str) -> DockerHost:
        return DockerHost.objects.create(
            name="local", engine_url=docker_engine_url, address="127.0.0.1", routing=routing
        )

    return make


@pytest.fixture
def engine(docker_engine_url):
    client = docker.DockerClient(base_url=docker_engine_url, timeout=60)
    yield client
    client.close()


def test_a_network_routed_host_publishes_no_port_and_ten_deploys_drop_no_request(
    one_host, router, app, make_release, traffic, engine, tenant_slug
):
    # given
    one_host(HostRouting.NETWORK)
    first = deploy(make_release())
    assert first.status == DeploymentStatus.SUCCEEDED, first.error

    # then: nothing published; the router reaches each container at its address on the tenant network
    rows = list(Container.objects.filter(app=app, state=ContainerState.RUNNING))
    assert len(rows) == 2
    for row in rows:
        attrs = engine.api.inspect_container(row.engine_id)
        assert not attrs["HostConfig"].get("PortBindings")
        assert not any(attrs["NetworkSettings"]["Ports"].values())
        assert row.ip == attrs["NetworkSettings"]["Networks"][f"berth-{tenant_slug}"]["IPAddress"]
        assert row.host_port == 5000
    [route] = [r for r in routes.routes_collect([app.pk])]
    assert sorted(route.upstreams) == sorted(f"{row.ip}:5000" for row in rows)

    # when: ten deploys under a new-connection loop and a keep-alive loop
    with traffic() as fresh, traffic(keepalive=True) as kept:
        results = [deploy(make_release()) for _ in range(10)]

    # then
    assert [d.status for d in results] == [DeploymentStatus.SUCCEEDED] * 10, [d.error for d in results]
    assert (fresh.failed, kept.failed) == (0, 0), (fresh.failures[:5], kept.failures[:5])
    assert fresh.ok > 0 and kept.ok > 0
    assert "v11" in fresh.bodies and "v11" in kept.bodies


@pytest.mark.parametrize("routing", [HostRouting.PORT, HostRouting.NETWORK])
def test_a_restarted_container_is_routed_where_it_answers_now(
    routing, one_host, router, app, make_release, traffic, engine
):
    # given: one web container, so a stale route would fail every request
    one_host(routing)
    assert deploy(make_release(formation=web_formation(quantity=1))).status == DeploymentStatus.SUCCEEDED
    row = Container.objects.get(app=app, state=ContainerState.RUNNING)
    published_before = engine.api.inspect_container(row.engine_id)["NetworkSettings"]["Ports"]

    # when: restarted through Berth
    container_restart(actor=None, app=app, container=row)

    # then
    row.refresh_from_db()
    attrs = engine.api.inspect_container(row.engine_id)
    if routing == HostRouting.PORT:
        assert attrs["NetworkSettings"]["Ports"] != published_before  # the engine published the port anew
        assert row.host_port == int(attrs["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"])
    else:
        assert row.ip == next(iter(attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    assert traffic().get() == (200, "v1\n")

    # when: restarted by the engine itself (as its restart policy does), behind Berth's back
    engine.api.restart(row.engine_id, timeout=1)
    reconcile()
    routes.routes_switch(routes.routing_version())

    # then
    row.refresh_from_db()
    attrs = engine.api.inspect_container(row.engine_id)
    if routing == HostRouting.PORT:
        assert row.host_port == int(attrs["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"])
    else:
        assert row.ip == next(iter(attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    assert traffic().get() == (200, "v1\n")
