"""The reconciler removes this installation's orphans from real engines, and nothing else."""

import pytest
from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine.labels import INSTALLATION_LABEL, TENANT_LABEL
from deployments.models import Container, ContainerState, Deployment, DeploymentStatus, DockerHost, HostStatus
from deployments.services.hosts import host_spec
from deployments.services.installation import installation_id
from deployments.services.rollouts import deployment_execute, reconcile, rollout_enqueue
from deployments.services.rollouts.locks import app_turn
from deployments.services.rollouts.plan import Planned, container_name, release_processes, run_spec, tenant_network
from deployments.tests.integration.conftest import engine_containers
from samples import sample_tag
from tenants.models import AuditEvent

IMAGE = sample_tag("httpd")
pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_grace(settings):
    settings.BERTH_ORPHAN_GRACE_SECONDS = 0
    return settings


def _start(host, release, *, index=1, deployment=None, labels=None, without=()):
    """Start a web container of `release` by hand, as a worker would, with no row recorded for it."""
    engine = host_spec(host)
    tenant = release.app.tenant
    docker_ops.network_ensure(engine, name=tenant_network(tenant=tenant), labels={TENANT_LABEL: tenant.slug})
    planned = Planned(
        process_type="web",
        index=index,
        host=host,
        name=container_name(release=release, process_type="web", index=index),
        settings=release_processes(release=release)["web"],
    )
    spec = run_spec(release=release, planned=planned, image=IMAGE, deployment_id=deployment.pk if deployment else None)
    spec.labels.update(labels or {})
    for key in without:
        spec.labels.pop(key)
    return docker_ops.container_start(engine, spec).engine_id


def _on_engine(url, slug):
    return {container.id: container.status for container in engine_containers(url, slug)}


def _finished(release, status=DeploymentStatus.SUCCEEDED):
    now = timezone.now()
    return Deployment.objects.create(app=release.app, release=release, status=status, started_at=now, finished_at=now)


def test_an_orphan_of_this_installation_is_stopped_removed_and_recorded(
    hosts, app, make_release, tenant_slug, docker_engine_url, second_docker_engine_url
):
    # given: one container of a finished deployment that never got its row, one whose row says it exited
    release = make_release()
    done = _finished(release)
    unknown = _start(hosts[0], release, deployment=done)
    stale = _start(hosts[1], release, index=2, deployment=done)
    Container.objects.create(
        host=hosts[1],
        app=app,
        release=release,
        deployment=done,
        process_type="web",
        index=2,
        name="x",
        engine_id=stale,
        state=ContainerState.EXITED,
    )
    assert _on_engine(docker_engine_url, tenant_slug) == {unknown: "running"}
    assert _on_engine(second_docker_engine_url, tenant_slug) == {stale: "running"}

    # when
    reconcile()

    # then
    assert _on_engine(docker_engine_url, tenant_slug) == {}
    assert _on_engine(second_docker_engine_url, tenant_slug) == {}
    events = AuditEvent.objects.filter(tenant=app.tenant, action="container.orphan_remove").order_by("id")
    assert [(e.actor, e.actor_name, e.target_repr, e.diff["engine_id"]) for e in events] == [
        (None, "system", "local", unknown[:12]),
        (None, "system", "second", stale[:12]),
    ]
    assert events[0].diff["app"] == "web"
    assert events[0].diff["release"] == str(release.version)


def test_containers_of_another_installation_or_without_the_label_are_left(
    hosts, app, make_release, tenant_slug, docker_engine_url
):
    # given: same engine, same labels, but another installation's id, and one from before the label existed
    release = make_release()
    other = _start(hosts[0], release, labels={INSTALLATION_LABEL: "0123456789abcdef"})
    older = _start(hosts[0], release, index=2, without=[INSTALLATION_LABEL])
    _start(hosts[0], release, index=3)

    # when
    reconcile()

    # then
    assert _on_engine(docker_engine_url, tenant_slug) == {other: "running", older: "running"}
    assert AuditEvent.objects.filter(action="container.orphan_remove").count() == 1


def test_containers_with_a_live_row_are_left(hosts, router, app, make_release, tenant_slug, docker_engine_url):
    # given: a real rollout, whose containers carry this installation's id
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=make_release().pk).pk)
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    rows = list(Container.objects.filter(app=app, state=ContainerState.RUNNING).select_related("host"))
    assert len(rows) == 2
    local = next(row for row in rows if row.host.name == "local")
    labels = docker_ops.inspect(host_spec(local.host), engine_id=local.engine_id)["Config"]["Labels"]
    assert labels[INSTALLATION_LABEL] == installation_id()

    # when
    reconcile()

    # then
    assert _on_engine(docker_engine_url, tenant_slug) == {local.engine_id: "running"}
    assert Container.objects.filter(app=app, state=ContainerState.RUNNING).count() == 2
    assert not AuditEvent.objects.filter(action="container.orphan_remove").exists()


def test_a_container_of_a_deployment_in_progress_is_left_until_it_ends(
    hosts, app, make_release, tenant_slug, docker_engine_url
):
    # given: a worker started a container and has not recorded its id yet
    release = make_release()
    running = Deployment.objects.create(
        app=app, release=release, status=DeploymentStatus.RUNNING, started_at=timezone.now()
    )
    engine_id = _start(hosts[0], release, deployment=running)

    # when: the reconciler passes while that worker holds the app's turn, as a live worker does
    with app_turn(app.pk, timeout=0) as held:
        assert held
        reconcile()

    # then
    assert _on_engine(docker_engine_url, tenant_slug) == {engine_id: "running"}

    # when: the deployment ended without recording it
    Deployment.objects.filter(pk=running.pk).update(status=DeploymentStatus.FAILED, finished_at=timezone.now())
    reconcile()

    # then
    assert _on_engine(docker_engine_url, tenant_slug) == {}


def test_a_container_younger_than_the_grace_period_is_left(
    no_grace, hosts, app, make_release, tenant_slug, docker_engine_url
):
    # given
    no_grace.BERTH_ORPHAN_GRACE_SECONDS = 300
    engine_id = _start(hosts[0], make_release())

    # when
    reconcile()

    # then
    assert _on_engine(docker_engine_url, tenant_slug) == {engine_id: "running"}

    # when: the same container, once the grace period is over
    no_grace.BERTH_ORPHAN_GRACE_SECONDS = 0
    reconcile()

    # then
    assert _on_engine(docker_engine_url, tenant_slug) == {}


def test_an_unreachable_host_is_skipped_and_the_others_are_cleaned(
    hosts, app, make_release, tenant_slug, docker_engine_url
):
    # given: a ready host whose engine does not answer, listed before the others
    ghost = DockerHost.objects.create(name="a-ghost", engine_url="unix:///run/berth-no-such-engine.sock")
    engine_id = _start(hosts[0], make_release())
    assert engine_id in _on_engine(docker_engine_url, tenant_slug)

    # when
    reconcile()

    # then
    ghost.refresh_from_db()
    assert ghost.status == HostStatus.READY
    assert _on_engine(docker_engine_url, tenant_slug) == {}


def test_a_live_row_whose_container_vanished_is_still_marked_lost(hosts, app, make_release, tenant_slug):
    # given
    release = make_release()
    app.current_release = release
    app.save(update_fields=["current_release"])
    done = _finished(release)
    engine_id = _start(hosts[0], release, deployment=done)
    row = Container.objects.create(
        host=hosts[0],
        app=app,
        release=release,
        deployment=done,
        process_type="web",
        index=1,
        name="web-1",
        engine_id=engine_id,
        state=ContainerState.RUNNING,
        routed=True,
    )
    docker_ops.container_remove(host_spec(hosts[0]), engine_id=engine_id)

    # when
    queued = reconcile()

    # then
    row.refresh_from_db()
    assert (row.state, row.routed) == (ContainerState.LOST, False)
    assert queued == {app.pk}
    assert not AuditEvent.objects.filter(action="container.orphan_remove").exists()
