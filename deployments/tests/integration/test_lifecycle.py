"""The queue, superseding, scaling, restarting and reading containers, and the heartbeat, on real engines."""

import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from deployments.engine import containers as docker_ops
from deployments.engine.labels import RELEASE_LABEL
from deployments.models import (
    Container,
    ContainerState,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    DockerHost,
    HostStatus,
    ReleaseStatus,
)
from deployments.services.apps import app_delete
from deployments.services.hosts import host_heartbeat, host_spec
from deployments.services.rollouts import deployment_execute, reconcile, rollout_enqueue, scale_enqueue
from deployments.services.rollouts.plan import Planned, container_name, release_processes, run_spec
from deployments.tests.factories import FormationFactory, MembershipFactory, UserFactory, web_formation
from deployments.tests.integration.conftest import engine_containers
from samples import sample_tag

IMAGE = sample_tag("httpd")
pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def deploy(release):
    return deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)


def test_a_rollout_goes_through_the_database_queue_and_the_worker(hosts, router, app, make_release, traffic):
    # given: enqueued on commit, as the releases service does
    release = make_release()
    deployment = rollout_enqueue(release_id=release.pk)
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.PENDING

    # when
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "default", verbosity=0)

    # then
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert traffic().get() == (200, "v1\n")


def test_a_new_rollout_supersedes_one_in_progress(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given: a rollout stuck waiting on a health check that will not pass for a minute
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
    while not Container.objects.filter(deployment=slow_deployment).exclude(engine_id="").exists():
        if not worker.is_alive():
            break
        if time.monotonic() > deadline:
            pytest.fail("the slow rollout started no container within 120 s")
        time.sleep(0.2)

    # when
    fresh = make_release()
    fresh_deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=fresh.pk).pk)
    worker.join(timeout=120)

    # then
    slow_deployment.refresh_from_db()
    slow.refresh_from_db()
    assert slow_deployment.status == DeploymentStatus.SUPERSEDED
    assert slow.status == ReleaseStatus.FAILED
    assert slow.error == "Superseded by a newer rollout before it served."
    assert fresh_deployment.status == DeploymentStatus.SUCCEEDED, fresh_deployment.error
    seen = engine_containers(docker_engine_url, tenant_slug) + engine_containers(second_docker_engine_url, tenant_slug)
    assert sorted(c.labels[RELEASE_LABEL] for c in seen) == [str(fresh.version)] * 2


def test_a_rollout_superseded_before_it_started_fails_its_release(hosts, router, app, make_release):
    # given: v1's rollout is queued, not started
    v1 = make_release()
    queued = rollout_enqueue(release_id=v1.pk)

    # when
    v2 = make_release()
    latest = deploy(v2)
    deployment_execute(deployment_id=queued.pk)  # the worker picks the superseded one up late

    # then
    queued.refresh_from_db()
    v1.refresh_from_db()
    assert queued.status == DeploymentStatus.SUPERSEDED
    assert queued.finished_at is not None
    assert (v1.status, v1.error) == (ReleaseStatus.FAILED, "Superseded by the rollout of v2 before it started.")
    assert latest.status == DeploymentStatus.SUCCEEDED, latest.error


def test_scaling_up_and_down_follows_the_formation(hosts, router, app, make_release, traffic):
    # given
    formation = FormationFactory(app=app, process_type="web", quantity=2, memory_mb=64)
    assert deploy(make_release()).status == DeploymentStatus.SUCCEEDED

    # when
    formation.quantity = 3
    formation.save()
    up = deployment_execute(deployment_id=scale_enqueue(app_id=app.pk).pk)

    # then
    assert (up.kind, up.status) == (DeploymentKind.SCALE, DeploymentStatus.SUCCEEDED), up.error
    running = Container.objects.filter(app=app, state=ContainerState.RUNNING)
    assert sorted(running.values_list("index", flat=True)) == [1, 2, 3]
    assert running.filter(routed=True).count() == 3

    # when
    formation.quantity = 1
    formation.save()
    with traffic() as loop:
        down = deployment_execute(deployment_id=scale_enqueue(app_id=app.pk).pk)

    # then
    assert down.status == DeploymentStatus.SUCCEEDED, down.error
    assert list(Container.objects.filter(app=app, state=ContainerState.RUNNING).values_list("index", flat=True)) == [1]
    assert loop.failed == 0, loop.failures[:5]


def test_containers_are_read_from_the_engines_and_one_restarts(hosts, router, app, make_release):
    # given
    assert deploy(make_release()).status == DeploymentStatus.SUCCEEDED
    member = MembershipFactory(tenant=app.tenant, user=UserFactory(), role="developer")
    stranger = MembershipFactory(user=UserFactory(), role="owner")
    client = APIClient()
    client.force_authenticate(member.user)
    base = f"/api/v1/tenants/{app.tenant.slug}/apps/web/containers/"

    # when
    listed = client.get(base)

    # then
    assert listed.status_code == 200
    body = listed.json()
    assert body["unreachable_hosts"] == []
    assert [(c["process_type"], c["index"], c["state"], c["release"], c["routed"]) for c in body["results"]] == [
        ("web", 1, "running", 1, True),
        ("web", 2, "running", 1, True),
    ]
    assert sorted(c["host"] for c in body["results"]) == ["local", "second"]

    # when
    target = body["results"][0]["id"]
    restarted = client.post(f"{base}{target}/restart/")

    # then
    assert restarted.status_code == 202
    assert restarted.json() == {"id": target, "restarted": True}
    assert [c["state"] for c in client.get(base).json()["results"]] == ["running", "running"]

    # a member of another tenant sees nothing and restarts nothing
    client.force_authenticate(stranger.user)
    assert client.get(base).status_code == 404
    assert client.post(f"{base}{target}/restart/").status_code == 404


def test_the_heartbeat_records_the_engine_and_marks_a_silent_host_down(
    db, docker_engine_url, docker_engine_version, tmp_path
):
    local = DockerHost.objects.create(name="local", engine_url=docker_engine_url)
    ghost = DockerHost.objects.create(name="ghost", engine_url=f"unix://{tmp_path}/gone.sock")

    local = host_heartbeat(host=local)
    ghost = host_heartbeat(host=ghost)

    assert local.status == HostStatus.READY
    assert local.engine_version == docker_engine_version
    assert local.last_heartbeat_at is not None
    assert local.free_memory_mb > 0
    assert ghost.status == HostStatus.DOWN
    assert ghost.last_heartbeat_at is None
    assert "did not answer" in ghost.last_error or "unusable" in ghost.last_error


def _start_by_hand(deployment, release, host, index):
    """Start a container of `deployment` as its worker would have, before dying."""
    planned = Planned(
        process_type="web",
        index=index,
        host=host,
        name=container_name(release=release, process_type="web", index=index),
        settings=release_processes(release=release)["web"],
    )
    started = docker_ops.container_start(
        host_spec(host), run_spec(release=release, planned=planned, image=IMAGE, deployment_id=deployment.pk)
    )
    return Container.objects.create(
        host=host,
        app=release.app,
        release=release,
        deployment=deployment,
        process_type="web",
        index=index,
        name=planned.name,
        engine_id=started.engine_id,
        host_port=started.host_port,
        state=ContainerState.RUNNING,
    )


def _stale_running(release):
    long_ago = timezone.now() - timedelta(hours=2)
    return Deployment.objects.create(
        app=release.app, release=release, status=DeploymentStatus.RUNNING, started_at=long_ago
    )


def test_a_rollout_whose_worker_died_before_the_switch_is_undone(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url, traffic
):
    # given: v1 serves; the worker of v2 started one container and died
    v1 = make_release()
    assert deploy(v1).status == DeploymentStatus.SUCCEEDED
    v2 = make_release()
    dead = _stale_running(v2)
    _start_by_hand(dead, v2, hosts[0], 1)

    # when
    reconcile()

    # then
    dead.refresh_from_db()
    v2.refresh_from_db()
    app.refresh_from_db()
    assert dead.status == DeploymentStatus.FAILED
    assert v2.status == ReleaseStatus.FAILED
    assert v2.error.startswith("The worker stopped during the rollout")
    assert app.current_release_id == v1.pk
    seen = engine_containers(docker_engine_url, tenant_slug) + engine_containers(second_docker_engine_url, tenant_slug)
    assert sorted(c.labels[RELEASE_LABEL] for c in seen) == ["1", "1"]
    assert traffic().get() == (200, "v1\n")


def test_a_rollout_whose_worker_died_after_the_switch_is_finished(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url, traffic
):
    # given: v1 serves; the worker of v2 started both containers, switched the router, and died
    v1 = make_release()
    assert deploy(v1).status == DeploymentStatus.SUCCEEDED
    v2 = make_release()
    dead = _stale_running(v2)
    new = [_start_by_hand(dead, v2, host, index) for index, host in enumerate(hosts, start=1)]
    Container.objects.filter(release=v1).update(routed=False)
    Container.objects.filter(pk__in=[c.pk for c in new]).update(routed=True)

    # when
    reconcile()

    # then
    dead.refresh_from_db()
    app.refresh_from_db()
    assert dead.status == DeploymentStatus.SUCCEEDED
    assert app.current_release_id == v2.pk
    seen = engine_containers(docker_engine_url, tenant_slug) + engine_containers(second_docker_engine_url, tenant_slug)
    assert sorted(c.labels[RELEASE_LABEL] for c in seen) == ["2", "2"]
    assert traffic().get() == (200, "v2\n")


def test_deleting_an_app_stops_its_containers_and_drops_its_route(
    hosts, router, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url, traffic
):
    # given
    assert deploy(make_release()).status == DeploymentStatus.SUCCEEDED
    owner = MembershipFactory(tenant=app.tenant, user=UserFactory(), role="owner").user

    # when: the apps service queues the teardown on commit; the worker runs it
    app_delete(app=app, actor=owner)
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "default", verbosity=0)

    # then
    assert engine_containers(docker_engine_url, tenant_slug) == []
    assert engine_containers(second_docker_engine_url, tenant_slug) == []
    status, _body = traffic().get()
    assert status == 404
