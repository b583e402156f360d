"""Several router machines: a switch waits until every live router serves it, then the old containers stop."""

import secrets
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from deployments.engine.labels import RELEASE_LABEL
from deployments.models import Container, ContainerState, DeploymentStatus, ReleaseStatus, RouterNode
from deployments.router import Nginx
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.services.routes import router_loop, routing_version
from deployments.tests.integration.conftest import Traffic, _free_port, engine_containers

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def deploy(release):
    return deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)


@pytest.fixture
def edges(settings, nginx_bin):
    """Start router loops, each with its own nginx, as `manage.py router` runs on each router machine."""
    settings.BERTH_ROUTER_INLINE = False  # the worker's machine runs no router
    started = []

    def start(name: str) -> Nginx:
        prefix = Path(settings.DATA_DIR) / f"router-{name}-{secrets.token_hex(4)}"
        prefix.mkdir(parents=True, mode=0o755)
        nginx = Nginx(prefix=prefix, port=_free_port(), binary=nginx_bin)
        stop = threading.Event()
        thread = threading.Thread(target=router_loop, kwargs={"name": name, "nginx": nginx, "stop": stop})
        thread.start()
        started.append((nginx, stop, thread))
        return nginx

    yield start
    for nginx, stop, thread in started:
        stop.set()
        thread.join(timeout=30)
        nginx.stop()


def _traffic(nginx: Nginx, app) -> Traffic:
    return Traffic(port=nginx.port, path="/release.txt", host=f"web.{app.tenant.slug}.localhost")


def test_deploys_under_traffic_through_two_routers_drop_no_request(hosts, app, make_release, edges):
    # given: two routers, and one that stopped reporting an hour ago (a machine taken away)
    first, second = edges("edge-1"), edges("edge-2")
    RouterNode.objects.create(name="edge-gone", drained_version=0, last_seen=timezone.now() - timedelta(hours=1))
    assert deploy(make_release()).status == DeploymentStatus.SUCCEEDED

    # when
    with _traffic(first, app) as one, _traffic(second, app) as two:
        results = []
        for _ in range(5):
            results.append(deploy(make_release()))
            # then, after each: both live routers drained the switch before the rollout returned
            drained = dict(RouterNode.objects.values_list("name", "drained_version"))
            assert drained["edge-1"] >= routing_version() and drained["edge-2"] >= routing_version()

    # then
    assert [d.status for d in results] == [DeploymentStatus.SUCCEEDED] * 5, [d.error for d in results]
    assert (one.failed, two.failed) == (0, 0), one.failures[:3] + two.failures[:3]
    assert one.ok > 0 and two.ok > 0
    assert _traffic(first, app).get() == (200, "v6\n")
    assert _traffic(second, app).get() == (200, "v6\n")


def test_a_router_that_does_not_serve_the_switch_fails_the_rollout_and_the_old_release_keeps_serving(
    hosts, app, make_release, edges, settings, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given: one working router, and one that says it is alive but never applies anything
    settings.BERTH_ROUTER_SWITCH_TIMEOUT = 2
    working = edges("edge-1")
    v1 = make_release()
    assert deploy(v1).status == DeploymentStatus.SUCCEEDED
    RouterNode.objects.create(name="edge-stuck", drained_version=0, last_seen=timezone.now())

    # when
    with _traffic(working, app) as loop:
        deployment = deploy(make_release())

    # then
    v2 = deployment.release
    v2.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    assert "edge-stuck did not serve the new routes within 2 s" in deployment.error
    assert v2.status == ReleaseStatus.FAILED
    assert loop.failed == 0, loop.failures[:5]
    assert _traffic(working, app).get() == (200, "v1\n")
    assert set(Container.objects.filter(app=app, state=ContainerState.RUNNING).values_list("release", flat=True)) == {
        v1.pk
    }
    seen = engine_containers(docker_engine_url, tenant_slug) + engine_containers(second_docker_engine_url, tenant_slug)
    assert sorted(c.labels[RELEASE_LABEL] for c in seen) == ["1", "1"]
