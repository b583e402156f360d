"""The same rollout, scale and failure tests on both schedulers: two Docker hosts placed by Berth, and the two-node
Swarm cluster. Each runs an app through a real HAProxy router under a keep-alive request loop."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import docker
import pytest
from django.db import connection

from deployments.engine.labels import RELEASE_LABEL, TENANT_LABEL, label_filter
from deployments.models import App, Container, ContainerState, Deployment, DeploymentStatus, Formation, ReleaseStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue, scale_enqueue
from deployments.tests.factories import AppFactory, TenantFactory, web_formation
from samples import sample_tag

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@dataclass
class Fleet:
    """Where an app runs: its scheduler, and the engines whose containers are its (the hosts, or the nodes)."""

    scheduler: str
    app: App
    engine_urls: list[str]

    def releases_running(self, expected: list[str], timeout: float = 30) -> list[str]:
        """The berth.release label of every running container of the app's tenant on the engines, sorted, once it
        is `expected` or after `timeout` (a removed service's tasks stop a moment after the removal returns)."""
        deadline = time.monotonic() + timeout
        while True:
            found = []
            for url in self.engine_urls:
                client = docker.DockerClient(base_url=url, timeout=60)
                try:
                    found += [
                        c.labels[RELEASE_LABEL]
                        for c in client.containers.list(
                            filters={"label": label_filter(TENANT_LABEL, self.app.tenant.slug)}
                        )
                    ]
                finally:
                    client.close()
            if sorted(found) == expected or time.monotonic() > deadline:
                return sorted(found)
            time.sleep(0.5)


@pytest.fixture(params=["hosts", "swarm"])
def fleet(request) -> Fleet:
    if request.param == "hosts":
        hosts = request.getfixturevalue("hosts")
        tenant = TenantFactory(slug=request.getfixturevalue("tenant_slug"))
        return Fleet("hosts", AppFactory(tenant=tenant, slug="web"), [host.engine_url for host in hosts])
    nodes = request.getfixturevalue("swarm_nodes")
    return Fleet("swarm", request.getfixturevalue("swarm_app"), [node.url for node in nodes])


@pytest.fixture
def app(fleet):
    return fleet.app


def deploy(release):
    deployment = rollout_enqueue(release_id=release.pk)
    return deployment_execute(deployment_id=deployment.pk)


def running(app):
    return Container.objects.filter(app=app, state=ContainerState.RUNNING)


def test_ten_consecutive_deploys_under_a_keep_alive_loop_drop_no_request(fleet, app, make_release, traffic):
    # given
    first = deploy(make_release())
    assert first.status == DeploymentStatus.SUCCEEDED, first.error

    # when
    started = time.monotonic()
    with traffic(keepalive=True) as loop:
        results = [deploy(make_release()) for _ in range(10)]
    elapsed = time.monotonic() - started

    # then
    assert [d.status for d in results] == [DeploymentStatus.SUCCEEDED] * 10, [d.error for d in results]
    assert loop.failed == 0, loop.failures[:5]
    assert loop.ok > 0
    assert loop.bodies <= {f"v{n}" for n in range(1, 12)}
    assert "v11" in loop.bodies
    assert sorted(running(app).values_list("release__version", flat=True)) == [11, 11]
    assert fleet.releases_running(["11", "11"]) == ["11", "11"]
    print(f"{fleet.scheduler}: 10 deploys in {elapsed:.1f} s, {loop.ok} requests on {loop.connections} connection(s)")


def test_a_release_failing_its_health_check_is_marked_failed_and_the_old_one_keeps_serving(
    fleet, app, make_release, traffic
):
    # given
    good = make_release()
    assert deploy(good).status == DeploymentStatus.SUCCEEDED
    bad = make_release(image=sample_tag("unhealthy"), formation=web_formation(healthcheck_timeout=3))

    # when
    with traffic(keepalive=True) as loop:
        deployment = deploy(bad)

    # then
    assert deployment.status == DeploymentStatus.FAILED
    assert "did not pass its health check (GET / on port 5000) within 3 s" in deployment.error
    bad.refresh_from_db()
    app.refresh_from_db()
    assert bad.status == ReleaseStatus.FAILED
    assert app.current_release_id == good.pk
    assert loop.failed == 0, loop.failures[:5]
    assert loop.bodies == {"v1"}
    assert sorted(running(app).values_list("release__version", flat=True)) == [1, 1]
    assert fleet.releases_running(["1", "1"]) == ["1", "1"]


def test_scale_to_four_spreads_the_containers_across_both_hosts_and_the_router_serves_them(
    fleet, app, make_release, traffic
):
    # given
    first = deploy(make_release(formation=web_formation(quantity=1)))
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    Formation.objects.update_or_create(app=app, process_type="web", defaults={"quantity": 4, "memory_mb": 64})

    # when
    with traffic(keepalive=True) as loop:
        scale = deployment_execute(deployment_id=scale_enqueue(app_id=app.pk).pk)

    # then
    assert scale.status == DeploymentStatus.SUCCEEDED, scale.error
    rows = list(running(app).select_related("host"))
    per_host = {}
    for row in rows:
        per_host[row.host.name] = per_host.get(row.host.name, 0) + 1
    assert sorted(per_host.values()) == [2, 2]
    assert all(row.routed for row in rows)
    assert loop.failed == 0, loop.failures[:5]
    assert fleet.releases_running(["1"] * 4) == ["1"] * 4


def test_a_failing_release_command_stops_the_rollout_and_the_old_release_keeps_serving(
    fleet, app, make_release, traffic
):
    # given
    assert deploy(make_release()).status == DeploymentStatus.SUCCEEDED
    release = make_release(release_command="/bin/sh -c 'echo migrating; exit 3'")

    # when
    deployment = deploy(release)

    # then
    release.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    assert release.error.startswith("The release command `/bin/sh -c 'echo migrating; exit 3'` exited with status 3")
    assert "migrating" in release.error
    assert [step["name"] for step in deployment.steps] == ["plan", "prepare", "release"]
    assert fleet.releases_running(["1", "1"]) == ["1", "1"]
    assert traffic().get() == (200, "v1\n")


def test_a_release_command_runs_once_before_the_new_release_starts(fleet, app, make_release):
    # when
    deployment = deploy(make_release(release_command="/bin/sh -c 'echo migrated'"))

    # then
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert [step["name"] for step in deployment.steps] == ["plan", "prepare", "release", "start", "route", "drain"]
    assert fleet.releases_running(["1", "1"]) == ["1", "1"]


def test_a_new_rollout_supersedes_one_waiting_on_its_health_checks(fleet, app, make_release):
    # given: a rollout waiting on a health check that will not pass for a minute
    slow = make_release(image=sample_tag("unhealthy"), formation=web_formation(healthcheck_timeout=60))
    slow_deployment = rollout_enqueue(release_id=slow.pk)

    def run():
        try:
            deployment_execute(deployment_id=slow_deployment.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 120
    while not any(
        step["name"] == "start" and step["status"] == "running"
        for step in Deployment.objects.get(pk=slow_deployment.pk).steps
    ):
        if not worker.is_alive() or time.monotonic() > deadline:
            pytest.fail("the slow rollout did not reach its start step")
        time.sleep(0.2)
    time.sleep(1)  # its containers or tasks are on their way

    # when
    started = time.monotonic()
    fresh = make_release()
    fresh_deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=fresh.pk).pk)
    worker.join(timeout=120)
    elapsed = time.monotonic() - started

    # then: the slow one stopped at its next look, long before its 60 s
    slow_deployment.refresh_from_db()
    slow.refresh_from_db()
    assert slow_deployment.status == DeploymentStatus.SUPERSEDED
    assert slow.status == ReleaseStatus.FAILED
    assert slow.error == "Superseded by a newer rollout before it served."
    assert fresh_deployment.status == DeploymentStatus.SUCCEEDED, fresh_deployment.error
    assert elapsed < 45
    assert fleet.releases_running(["2", "2"]) == ["2", "2"]
